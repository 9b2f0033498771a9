package org.iomapfs.core.pagecache;

import java.util.Arrays;

/**
 * Free folio memory of one order, the page allocator's free list for this cache: the arrays of folios that
 * reclaim, truncate, punch and invalidation freed, handed to new folios instead of a fresh allocation. Without it
 * every folio past the cache budget is a new array that lives as long as the folio stays cached, which the garbage
 * collector copies from the young generation to the old: in a streaming write through the mount that was about
 * half of the daemon's CPU, and a cache turning over from one folio size to another (single pages after 256 KiB
 * folios) stopped the daemon for 0.6-0.9 s of young collections per 10 s.
 *
 * <p>Memory comes back only from a folio that no one can reach any more: deleted from its mapping under the
 * folio lock, clean or truncated, not under writeback, not pinned, and with its references frozen at zero
 * (folio_ref_freeze, {@link PageCache#free}). Readers that copy outside the folio lock hold a reference
 * ({@link Folio#tryGet}), so the freeze fails under them; everyone else, a mapping's stale PTE included, locks the
 * folio or takes a reference first and finds it removed or frozen.
 *
 * <p>The pools of all orders share one limit on the bytes they hold ({@link PageCache#poolCapBytes}); what does
 * not fit is left to the collector. The monitor is a leaf in the lock order (taken holding anything, takes nothing).
 */
final class FolioPool {
    private final int size;
    private final PageCache cache;
    private byte[][] free = new byte[16][];
    private int count;

    /** A pool of arrays of {@code size} bytes (the folios of one order), counted in the cache's pooled bytes. */
    FolioPool(int size, PageCache cache) {
        this.size = size;
        this.cache = cache;
    }

    private synchronized byte[] pop() {
        if (count == 0) {
            return null;
        }
        byte[] a = free[--count];
        free[count] = null;
        cache.pooledBytes.addAndGet(-size);
        return a;
    }

    /** A zeroed array: one of the pool's, or a new one when the pool is empty. */
    byte[] take() {
        byte[] a = pop();
        if (a == null) {
            return new byte[size];
        }
        Arrays.fill(a, (byte) 0);
        return a;
    }

    /**
     * An array whose bytes are unknown: one of the pool's as its last folio left it, or a new one. For a
     * folio whose creator writes every byte ({@link Folio#markUndefined}).
     */
    byte[] takeUnzeroed() {
        byte[] a = pop();
        return a != null ? a : new byte[size];
    }

    /** Keeps an array no folio can reach any more; leaves it to the collector when the pools are full. */
    void give(byte[] a) {
        if (cache.pooledBytes.addAndGet(size) > cache.poolCapBytes()) {
            cache.pooledBytes.addAndGet(-size);
            return;
        }
        synchronized (this) {
            if (count == free.length) {
                free = Arrays.copyOf(free, count * 2);
            }
            free[count++] = a;
        }
    }

    synchronized int size() { return count; }
}
