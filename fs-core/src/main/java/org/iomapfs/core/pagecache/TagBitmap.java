package org.iomapfs.core.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A mark on folio indices, like an xarray tag (PAGECACHE_TAG_DIRTY, PAGECACHE_TAG_WRITEBACK): one bit per index
 * in chunks of {@link #CHUNK_BITS} bits, set and cleared with atomic word operations, so tagging a folio
 * allocates nothing once its chunk exists (a skip-list set boxed each index and added a node per tag). Chunks
 * of the first {@link #DIR_CHUNKS} (file offsets below 64 GiB) hang off a copy-on-grow directory; chunks
 * beyond it, for sparse files with data far out, live in a sorted map.
 */
final class TagBitmap {
    static final int CHUNK_SHIFT = 12;
    static final int CHUNK_BITS = 1 << CHUNK_SHIFT;
    static final int DIR_CHUNKS = 4096;
    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);

    /** Chunks by chunk number below DIR_CHUNKS; replaced (never changed in place) when a chunk is added. */
    private volatile long[][] dir = new long[0][];
    private final ConcurrentSkipListMap<Long, long[]> far = new ConcurrentSkipListMap<>();
    private final AtomicLong count = new AtomicLong();

    private long[] chunk(long c) {
        if (c < DIR_CHUNKS) {
            long[][] d = dir;
            return c < d.length ? d[(int) c] : null;
        }
        return far.get(c);
    }

    private long[] chunkForSet(long c) {
        long[] w = chunk(c);
        return w != null ? w : addChunk(c);
    }

    private synchronized long[] addChunk(long c) {
        long[] w = chunk(c);
        if (w != null) {
            return w;
        }
        w = new long[CHUNK_BITS / Long.SIZE];
        if (c < DIR_CHUNKS) {
            long[][] d = dir;
            long[][] nd = java.util.Arrays.copyOf(d, Math.max(d.length, (int) c + 1));
            nd[(int) c] = w;
            dir = nd;
        } else {
            far.put(c, w);
        }
        return w;
    }

    /** Sets the bit of {@code idx}; returns whether it was clear. */
    boolean set(long idx) {
        long[] w = chunkForSet(idx >>> CHUNK_SHIFT);
        int word = (int) (idx & (CHUNK_BITS - 1)) >>> 6;
        long bit = 1L << idx;
        long old = (long) WORD.getAndBitwiseOr(w, word, bit);
        if ((old & bit) == 0) {
            count.incrementAndGet();
            return true;
        }
        return false;
    }

    /** Clears the bit of {@code idx}; returns whether it was set. */
    boolean clear(long idx) {
        long[] w = chunk(idx >>> CHUNK_SHIFT);
        if (w == null) {
            return false;
        }
        int word = (int) (idx & (CHUNK_BITS - 1)) >>> 6;
        long bit = 1L << idx;
        long old = (long) WORD.getAndBitwiseAnd(w, word, ~bit);
        if ((old & bit) != 0) {
            count.decrementAndGet();
            return true;
        }
        return false;
    }

    boolean get(long idx) {
        long[] w = chunk(idx >>> CHUNK_SHIFT);
        return w != null && ((long) WORD.getAcquire(w, (int) (idx & (CHUNK_BITS - 1)) >>> 6) & (1L << idx)) != 0;
    }

    boolean isEmpty() { return count.get() == 0; }

    /** The first set index in [from, to], or -1. */
    long next(long from, long to) {
        if (from < 0 || from > to || count.get() == 0) {
            return -1;
        }
        long c = from >>> CHUNK_SHIFT;
        long lastChunk = to >>> CHUNK_SHIFT;
        while (c <= lastChunk) {
            long[] w;
            if (c < DIR_CHUNKS) {
                long[][] d = dir;
                if (c >= d.length) {
                    c = DIR_CHUNKS;
                    continue;
                }
                w = d[(int) c];
            } else {
                Map.Entry<Long, long[]> e = far.ceilingEntry(c);
                if (e == null || e.getKey() > lastChunk) {
                    return -1;
                }
                if (e.getKey() != c) {
                    c = e.getKey();
                    from = c << CHUNK_SHIFT;
                }
                w = e.getValue();
            }
            if (w != null) {
                long base = c << CHUNK_SHIFT;
                int i = (int) (Math.max(from, base) - base);
                for (int word = i >>> 6; word < w.length; word++) {
                    long bits = (long) WORD.getAcquire(w, word);
                    if (word == i >>> 6) {
                        bits &= -1L << i;
                    }
                    if (bits != 0) {
                        long idx = base + ((long) word << 6) + Long.numberOfTrailingZeros(bits);
                        return idx <= to ? idx : -1;
                    }
                }
            }
            c++;
            from = c << CHUNK_SHIFT;
        }
        return -1;
    }
}
