package org.iomapfs.core.pagecache;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.iomapfs.core.metrics.EngineMetrics;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ErrseqAndFolioTest {
    @Test
    void eachOpenerSeesAnErrorOnceAndANewOpenerSeesAnUnseenOne() {
        Errseq e = new Errseq();
        long[] a = {e.sample()};
        e.set(5);
        long[] b = {e.sample()};
        assertEquals(5, e.checkAndAdvance(a));
        assertEquals(0, e.checkAndAdvance(a));
        assertEquals(5, e.checkAndAdvance(b), "opened after the error but before anyone saw it");
        long[] c = {e.sample()};
        assertEquals(0, e.checkAndAdvance(c), "opened after the error was seen");
        e.set(5);
        assertEquals(5, e.checkAndAdvance(a), "the same errno again is a new error");
    }

    @Test
    void perBlockStateTracksUptodateAndDirtyAndInheritsFolioState() {
        PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 1 << 20);
        AddressSpace as = new AddressSpace(1, 512, cache);
        Folio f = as.grabLocked(0);
        f.attachState(512);
        f.setRangeUptodate(100, 600, 512);
        assertTrue(f.blockUptodate(0));
        assertTrue(f.blockUptodate(1));
        assertFalse(f.blockUptodate(2));
        assertFalse(f.isUptodate());
        f.setRangeUptodate(1024, 4096 - 1024, 512);
        assertTrue(f.isUptodate(), "all blocks uptodate makes the folio uptodate");
        f.unlock();

        Folio g = as.grabLocked(1);
        g.markUptodate();
        as.dirtyFolio(g);
        g.attachState(512);
        for (int i = 0; i < 8; i++) {
            assertTrue(g.blockDirty(i), "state attached to a dirty folio marks every block dirty (ifs_alloc)");
        }
        assertEquals(1, cache.dirtyFolios());
        assertEquals(java.util.List.of(1L), as.dirtyIndices(0, 10));
        as.clearDirtyForIo(g);
        assertEquals(java.util.List.of(1L), as.dirtyIndices(0, 10), "the tag stays until writeback starts");
        as.startWriteback(g);
        assertTrue(as.dirtyIndices(0, 10).isEmpty());
        as.endWriteback(g);
        g.unlock();
    }

    @Test
    void reclaimEvictsOnlyCleanUnlockedFolios() {
        PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 1 << 20);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        Folio clean = as.grabLocked(0);
        clean.markUptodate();
        clean.unlock();
        Folio dirty = as.grabLocked(1);
        dirty.markUptodate();
        as.dirtyFolio(dirty);
        dirty.unlock();
        Folio locked = as.grabLocked(2);
        Folio pinned = as.grabLocked(3);
        pinned.pin();
        pinned.unlock();
        assertEquals(1, cache.dropClean());
        assertTrue(clean.isRemoved());
        assertFalse(dirty.isRemoved());
        assertFalse(locked.isRemoved());
        assertFalse(pinned.isRemoved(), "a maybe-pinned folio is kept");
        locked.unlock();
    }
}
