package org.iomapfs.core.pagecache;

import java.util.Arrays;

/**
 * Free folio memory of one order, the page allocator's free list for this cache: the arrays of folios that
 * reclaim freed, handed to new folios instead of a fresh allocation. Without it every folio past the cache budget is a
 * new array that lives as long as the folio stays cached, which the garbage collector copies from the young
 * generation to the old: in a streaming write through the mount that was about half of the daemon's CPU.
 *
 * <p>Only reclaim gives memory back ({@code PageCache.tryEvict}), and only after freezing the folio's
 * references at zero under the folio lock, with the folio clean, not under writeback and not pinned: nobody
 * copies from it outside the lock (readers hold a reference, see {@link Folio#tryGet}), and everyone who finds
 * it afterwards locks it and sees it removed. Folios that truncate, punch or invalidation remove are left to
 * the garbage collector: a mapping's stale PTE may still point at them until its next access.
 *
 * <p>The monitor is a leaf in the lock order (taken holding anything, takes nothing).
 */
final class FolioPool {
    private final int size;
    private final byte[][] free;
    private int count;

    /** A pool of up to {@code capacity} arrays of {@code size} bytes (the folios of one order). */
    FolioPool(int size, int capacity) {
        this.size = size;
        free = new byte[capacity][];
    }

    /** A zeroed array: one of the pool's, or a new one when the pool is empty. */
    byte[] take() {
        byte[] a;
        synchronized (this) {
            if (count == 0) {
                return new byte[size];
            }
            a = free[--count];
            free[count] = null;
        }
        Arrays.fill(a, (byte) 0);
        return a;
    }

    /**
     * An array whose bytes are unknown: one of the pool's as its last folio left it, or a new one. For a
     * folio whose creator writes every byte ({@link Folio#markUndefined}).
     */
    synchronized byte[] takeUnzeroed() {
        if (count == 0) {
            return new byte[size];
        }
        byte[] a = free[--count];
        free[count] = null;
        return a;
    }

    /** Returns an array no folio can reach any more; dropped for the collector when the pool is full. */
    synchronized void give(byte[] a) {
        if (count < free.length) {
            free[count++] = a;
        }
    }

    synchronized int size() { return count; }
}
