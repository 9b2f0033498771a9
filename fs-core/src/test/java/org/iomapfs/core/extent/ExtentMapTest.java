package org.iomapfs.core.extent;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.store.ExtentRecord;
import org.iomapfs.core.store.Mkfs;
import org.iomapfs.core.store.MvMetaStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ExtentMapTest {
    @TempDir
    Path dir;
    MvMetaStore store;
    Allocator alloc;
    ExtentMap map;

    @BeforeEach
    void setUp() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 101 * 4096L, 4096, false);
        store = MvMetaStore.open(MvMetaStore.metaPath(img), false);
        alloc = new Allocator(store, 100);
        map = new ExtentMap(7, store, alloc);
        map.ilock.writeLock().lock();
    }

    @AfterEach
    void tearDown() {
        map.ilock.writeLock().unlock();
        store.close();
    }

    @Test
    void everyChangeBumpsTheSequenceAndLookupsDoNot() {
        long s0 = map.seq();
        map.reserveDelalloc(0, 4);
        long s1 = map.seq();
        assertTrue(s1 > s0);
        map.find(2);
        map.overlapping(0, 10);
        assertEquals(s1, map.seq());
        map.convertDelalloc(1);
        assertTrue(map.seq() > s1);
    }

    @Test
    void reservationTakesSpaceAtOnceAndPunchGivesItBack() {
        long avail = alloc.available();
        assertEquals(10, map.reserveDelalloc(0, 10));
        assertEquals(avail - 10, alloc.available());
        assertEquals(0, map.reserveDelalloc(2, 5), "already reserved blocks are not reserved twice");
        assertEquals(4, map.punchDelalloc(3, 7));
        assertEquals(avail - 6, alloc.available());
        assertNull(map.find(5));
        assertEquals(ExtentType.DELALLOC, map.find(8).type());
    }

    @Test
    void reservingMoreThanIsFreeIsEnospcAndChangesNothing() {
        long seq = map.seq();
        FsException e = assertThrows(FsException.class, () -> map.reserveDelalloc(0, 200));
        assertEquals(Errno.ENOSPC, e.errno());
        assertEquals(seq, map.seq());
        assertTrue(map.all().isEmpty());
    }

    @Test
    void delallocBecomesUnwrittenAtWritebackAndWrittenAtCompletion() {
        map.reserveDelalloc(0, 8);
        Extent u = map.convertDelalloc(3);
        assertEquals(ExtentType.UNWRITTEN, u.type());
        assertTrue(u.contains(3));
        assertEquals(0, map.delallocBlocks(), "the whole delalloc extent was converted");
        map.convertUnwritten(2, 5);
        assertEquals(ExtentType.UNWRITTEN, map.find(1).type());
        assertEquals(ExtentType.WRITTEN, map.find(2).type());
        assertEquals(ExtentType.WRITTEN, map.find(4).type());
        assertEquals(ExtentType.UNWRITTEN, map.find(5).type());
        map.convertUnwritten(0, 8);
        assertEquals(1, map.all().size(), "contiguous written blocks merge into one extent");
        List<ExtentRecord> persisted = store.extents(7);
        assertEquals(1, persisted.size());
        assertFalse(persisted.get(0).unwritten());
    }

    @Test
    void punchInTheMiddleSplitsAndFreesOnlyTheMiddle() {
        map.allocUnwritten(0, 10);
        Extent whole = map.find(0);
        map.punch(3, 6);
        assertEquals(new Extent(0, 3, ExtentType.UNWRITTEN, whole.disk()), map.find(0));
        assertNull(map.find(4));
        assertEquals(new Extent(6, 4, ExtentType.UNWRITTEN, whole.disk() + 6), map.find(6));
        assertEquals(3, alloc.busyBlocks(), "freed blocks wait for a commit before reuse");
        alloc.busyCommitted(alloc.busySnapshot());
        assertEquals(0, alloc.busyBlocks());
    }

    @Test
    void punchDelallocLeavesRealExtentsAlone() {
        map.allocUnwritten(0, 4);
        map.reserveDelalloc(4, 8);
        assertEquals(4, map.punchDelalloc(0, 8));
        assertEquals(ExtentType.UNWRITTEN, map.find(2).type());
        assertNull(map.find(5));
    }
}
