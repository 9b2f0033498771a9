package org.iomapfs.core.pagecache;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.iomapfs.core.metrics.EngineMetrics;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ReclaimBatchAndDirtyListTest {
    private static PageCache cache(long folios) {
        return new PageCache(new EngineMetrics(new SimpleMeterRegistry()), folios * Folio.PAGE_SIZE);
    }

    private static void addClean(AddressSpace as, long index) {
        Folio f = as.grabLocked(index);
        f.markUptodate();
        f.unlock();
    }

    @Test
    void aStreamOverALargeBudgetIsReclaimedInWholeBatches() {
        PageCache cache = cache(4096);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        long least = Long.MAX_VALUE;
        long most = 0;
        for (long i = 0; i < 3 * 4096; i++) {
            addClean(as, i);
            if (i >= 2 * 4096) {
                // new folios start referenced, so the first pass of the clock over a full cache only clears bits;
                // by the third budget's worth the list is in its steady state
                least = Math.min(least, cache.cachedFolios());
                most = Math.max(most, cache.cachedFolios());
            }
        }
        assertTrue(least <= 4096 - 31, "direct reclaim frees SWAP_CLUSTER_MAX at a time, leaving room: least " + least);
        assertTrue(most <= 4096 + 1, "over the budget by at most the folio just added (when its scan met only referenced folios): most " + most);
        assertNull(as.find(0), "the oldest folios went first");
        assertNotNull(as.find(3 * 4096 - 1));
    }

    @Test
    void aSmallBudgetIsStillKeptToTheFolio() {
        PageCache cache = cache(16);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        for (long i = 0; i < 40; i++) {
            addClean(as, i);
            assertTrue(cache.cachedFolios() <= 16, "cached " + cache.cachedFolios() + " after folio " + i);
        }
        assertEquals(16, cache.cachedFolios(), "under 64 folios of budget the batch is the excess alone");
    }

    @Test
    void aMappingCleanedAndDirtiedAgainIsBackOnTheDirtyList() {
        PageCache cache = cache(64);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        Folio f = as.grabLocked(0);
        f.markUptodate();
        as.dirtyFolio(f);
        f.unlock();
        assertTrue(cache.dirtySpaces().contains(as));
        as.maybeClean();
        assertTrue(cache.dirtySpaces().contains(as), "a mapping with a dirty folio stays listed");
        as.truncateRange(0, Long.MAX_VALUE);
        as.maybeClean();
        assertFalse(cache.dirtySpaces().contains(as), "a mapping with nothing dirty leaves the list");
        Folio g = as.grabLocked(3);
        g.markUptodate();
        as.dirtyFolio(g);
        g.unlock();
        assertTrue(cache.dirtySpaces().contains(as), "dirtying it again puts it back, or the flusher would never see it");
    }
}
