package org.iomapfs.core.pagecache;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Arrays;
import org.iomapfs.core.metrics.EngineMetrics;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FolioPoolTest {
    private static Folio cachedFolio(AddressSpace as, long index, byte fill) {
        Folio f = as.grabLocked(index);
        Arrays.fill(f.data(), fill);
        f.markUptodate();
        f.unlock();
        return f;
    }

    @Test
    void reclaimKeepsAFolioWhileAReaderHoldsAReference() {
        PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 1 << 20);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        Folio f = cachedFolio(as, 0, (byte) 7);
        assertTrue(f.tryGet());
        assertEquals(0, cache.dropClean(), "a referenced folio cannot be frozen, so reclaim keeps it");
        assertSame(f, as.find(0));
        assertEquals(0, cache.pooledFolios());
        f.put();
        assertEquals(1, cache.dropClean());
        assertTrue(f.isRemoved());
        assertFalse(f.tryGet(), "a folio reclaim froze takes no new reference");
    }

    @Test
    void memoryOfAReclaimedFolioServesTheNextNewFolioZeroed() {
        PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 1 << 20);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        Folio old = cachedFolio(as, 0, (byte) 0x5a);
        byte[] memory = old.data();
        assertEquals(1, cache.dropClean());
        assertEquals(1, cache.pooledFolios());
        Folio next = as.grabLocked(9);
        assertSame(memory, next.data(), "the freed array is reused");
        for (byte b : next.data()) {
            assertEquals(0, b, "a new folio starts zeroed, like a fresh allocation");
        }
        next.unlock();
        assertEquals(0, cache.pooledFolios());
    }

    /**
     * A new locked folio at index 9 for a writer that overwrites {@code overwrite} bytes from its start, on the
     * array of a reclaimed folio that held 0x5a.
     */
    private static Folio grabOnReclaimedMemory(long overwrite) {
        PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 1 << 20);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        byte[] memory = cachedFolio(as, 0, (byte) 0x5a).data();
        assertEquals(1, cache.dropClean());
        Folio f = as.grabLocked(9, 0, overwrite);
        assertSame(memory, f.data(), "the freed array is reused");
        return f;
    }

    @Test
    void aWriterCoveringANewFolioWholeGetsReusedMemoryUnzeroedAndItsCopyStaysAtUnlock() {
        Folio f = grabOnReclaimedMemory(Folio.PAGE_SIZE);
        assertEquals(0x5a, f.data()[100], "not zeroed: the writer overwrites it whole");
        Arrays.fill(f.data(), (byte) 3);
        f.definedUpTo(Folio.PAGE_SIZE);
        f.unlock();
        for (byte b : f.data()) {
            assertEquals(3, b, "what the writer copied is kept");
        }
    }

    @Test
    void unlockZeroesWhatTheWriterOfAnUnzeroedFolioDidNotCopy() {
        Folio f = grabOnReclaimedMemory(Folio.PAGE_SIZE);
        Arrays.fill(f.data(), 0, 100, (byte) 3);
        f.definedUpTo(100);
        f.unlock();
        for (int i = 0; i < Folio.PAGE_SIZE; i++) {
            assertEquals(i < 100 ? 3 : 0, f.data()[i], "byte " + i + ": a short copy leaves no old data behind");
        }
    }

    @Test
    void aWriterThatDoesNotCoverTheNewFolioWholeGetsItZeroed() {
        Folio f = grabOnReclaimedMemory(Folio.PAGE_SIZE - 1);
        for (byte b : f.data()) {
            assertEquals(0, b);
        }
        f.unlock();
    }

    /** A 1 MiB cache whose mapping holds two clean folios: index 0 filled with 1s, index 1 with 2s. */
    private record TwoCached(PageCache cache, AddressSpace as, Folio first, Folio second) {
        static TwoCached create() {
            PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 1 << 20);
            AddressSpace as = new AddressSpace(1, 4096, cache);
            return new TwoCached(cache, as, cachedFolio(as, 0, (byte) 1), cachedFolio(as, 1, (byte) 2));
        }
    }

    @Test
    void foliosRemovedByTruncateOrInvalidationAreReusedWhenNoOneCanReachThem() {
        TwoCached t = TwoCached.create();
        PageCache cache = t.cache();
        AddressSpace as = t.as();
        Folio truncated = t.first();
        Folio invalidated = t.second();
        as.truncateRange(0, Folio.PAGE_SIZE - 1);
        assertTrue(truncated.isRemoved());
        assertEquals(1, cache.pooledFolios(), "truncate freed the memory");
        assertFalse(truncated.tryGet(), "a stale PTE's load cannot take a reference any more: it faults again");
        assertTrue(as.invalidateRange(Folio.PAGE_SIZE, 2 * Folio.PAGE_SIZE - 1));
        assertEquals(2, cache.pooledFolios(), "invalidation freed the memory");
        Folio next = as.grabLocked(7);
        assertSame(invalidated.data(), next.data(), "the last freed array serves the next folio");
        next.unlock();
    }

    @Test
    void aTruncatedFolioThatAReaderOrAPinHoldsIsLeftToTheCollector() {
        TwoCached t = TwoCached.create();
        Folio read = t.first();
        Folio pinned = t.second();
        assertTrue(read.tryGet());
        pinned.pin();
        t.as().truncateRange(0, Long.MAX_VALUE);
        assertTrue(read.isRemoved() && pinned.isRemoved());
        assertEquals(0, t.cache().pooledFolios(), "a reader copying out and a direct I/O storing in still use the memory");
        read.put();
        pinned.unpin();
        for (int i = 0; i < Folio.PAGE_SIZE; i++) {
            assertEquals(1, read.data()[i]);
            assertEquals(2, pinned.data()[i]);
        }
    }

    /** Caches {@code n} clean folios of that order from index 0 on and truncates them all. */
    private static void cacheAndTruncate(AddressSpace as, int order, long n) {
        for (long i = 0; i < n; i++) {
            Folio f = as.grabLocked(i << order, order);
            assertEquals(order, f.order());
            f.markUptodate();
            f.unlock();
        }
        as.truncateRange(0, Long.MAX_VALUE);
    }

    @Test
    void thePoolsOfAllOrdersHoldAtMostTwiceTheBudget() {
        PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 64 << 20);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        assertEquals(Math.min(128L << 20, Runtime.getRuntime().maxMemory() / 4), cache.poolCapBytes(),
            "twice the budget, at most a quarter of the heap");
        assumeTrue(cache.poolCapBytes() == 128L << 20, "a heap of at least 512 MiB");
        cacheAndTruncate(as, 0, 16384);
        assertEquals(16384, cache.pooledFolios(), "a budget's worth of single pages");
        cacheAndTruncate(as, 6, 256);
        assertEquals(16384 + 256, cache.pooledFolios(), "and a budget's worth of 256 KiB folios");
        cacheAndTruncate(as, 3, 100);
        assertEquals(16384 + 256, cache.pooledFolios(), "the pools were full: new 32 KiB folios went to the collector");
    }

    @Test
    void dirtyFoliosOverTheBudgetStayCachedAndWakeTheFlusher() {
        PageCache cache = new PageCache(new EngineMetrics(new SimpleMeterRegistry()), 64 * Folio.PAGE_SIZE);
        AddressSpace as = new AddressSpace(1, 4096, cache);
        int[] wakes = {0};
        cache.setFlusher(() -> wakes[0]++);
        for (int i = 0; i < 256; i++) {
            Folio f = as.grabLocked(i);
            f.markUptodate();
            as.dirtyFolio(f);
            f.unlock();
        }
        assertEquals(256, cache.cachedFolios(), "dirty folios cannot be evicted: the cache goes over budget");
        assertTrue(wakes[0] > 0, "reclaim that found only dirty folios woke the flusher");
        assertEquals(256, cache.lruLength());
    }
}
