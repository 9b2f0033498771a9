package org.iomapfs.core.pagecache;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The folios of one mapping by index, as the kernel's {@code i_pages} xarray: slots in chunks of
 * {@link #CHUNK} indices, read without a lock and changed with a compare-and-set, so a lookup neither boxes
 * the index nor walks a skip list, and adding a folio (readahead adds one per index) allocates nothing once
 * its chunk exists. Chunks for the first {@link #DIR_CHUNKS} (file offsets below 16 GiB) hang off a
 * copy-on-grow directory (doubled, so a file written from start to end copies it
 * O(log n) times, not once per chunk); chunks beyond it, for sparse files with data far out, live in a sorted map.
 * A large folio fills every slot of its pages (a multi-index entry), so a lookup at any of its indices finds it;
 * its slots are claimed one by one with a compare-and-set and given back if another folio holds one of them.
 * A chunk holds {@link #CHUNK} indices and a large folio at most that many pages, aligned, so its slots share one chunk.
 */
final class FolioTable {
    static final int SHIFT = 6;
    static final int CHUNK = 1 << SHIFT;
    static final int DIR_CHUNKS = 1 << 16;

    /** Chunks by chunk number below DIR_CHUNKS; replaced (never changed in place) when a chunk is added. */
    private volatile AtomicReferenceArray<Folio>[] dir = newDir(0);
    private final ConcurrentSkipListMap<Long, AtomicReferenceArray<Folio>> far = new ConcurrentSkipListMap<>();
    private final AtomicInteger size = new AtomicInteger();

    @SuppressWarnings("unchecked")
    private static AtomicReferenceArray<Folio>[] newDir(int n) {
        return (AtomicReferenceArray<Folio>[]) new AtomicReferenceArray<?>[n];
    }

    private AtomicReferenceArray<Folio> chunk(long c) {
        if (c < DIR_CHUNKS) {
            AtomicReferenceArray<Folio>[] d = dir;
            return c < d.length ? d[(int) c] : null;
        }
        return far.get(c);
    }

    private synchronized AtomicReferenceArray<Folio> addChunk(long c) {
        AtomicReferenceArray<Folio> w = chunk(c);
        if (w != null) {
            return w;
        }
        w = new AtomicReferenceArray<>(CHUNK);
        if (c < DIR_CHUNKS) {
            AtomicReferenceArray<Folio>[] d = dir;
            AtomicReferenceArray<Folio>[] nd = java.util.Arrays.copyOf(d,
                    (int) Math.min(DIR_CHUNKS, Math.max(c + 1, 2L * d.length)));
            nd[(int) c] = w;
            dir = nd;
        } else {
            far.put(c, w);
        }
        return w;
    }

    Folio get(long idx) {
        AtomicReferenceArray<Folio> w = chunk(idx >>> SHIFT);
        return w == null ? null : w.get((int) (idx & (CHUNK - 1)));
    }

    /**
     * Installs {@code f} in the slots of its pages unless a folio holds one of them; returns that folio, or null.
     * A large folio may be seen in some of its slots before it loses such a race: the caller keeps it locked
     * and marks it removed before unlocking, so whoever found it looks again.
     */
    Folio putIfAbsent(Folio f) {
        long idx = f.index;
        AtomicReferenceArray<Folio> w = chunk(idx >>> SHIFT);
        if (w == null) {
            w = addChunk(idx >>> SHIFT);
        }
        int first = (int) (idx & (CHUNK - 1));
        int nr = f.nr();
        for (int i = first; i < first + nr; i++) {
            while (!w.compareAndSet(i, null, f)) {
                Folio cur = w.get(i);
                if (cur != null) {
                    for (int j = first; j < i; j++) {
                        w.compareAndSet(j, f, null);
                    }
                    return cur;
                }
            }
        }
        size.incrementAndGet();
        return null;
    }

    /** Removes {@code f} from the slots of its pages if it is still there; returns whether it was. */
    boolean remove(Folio f) {
        AtomicReferenceArray<Folio> w = chunk(f.index >>> SHIFT);
        int first = (int) (f.index & (CHUNK - 1));
        if (w == null || !w.compareAndSet(first, f, null)) {
            return false;
        }
        for (int i = first + 1; i < first + f.nr(); i++) {
            w.compareAndSet(i, f, null);
        }
        size.decrementAndGet();
        return true;
    }

    /** Folios in the table (a large folio counts once). */
    int size() { return size.get(); }

    /** The first index at or after {@code from} holding a folio, or -1 (up to {@code to} inclusive). */
    long next(long from, long to) {
        long c = from >>> SHIFT;
        long lastChunk = to >>> SHIFT;
        while (c <= lastChunk && from <= to) {
            AtomicReferenceArray<Folio> w;
            if (c < DIR_CHUNKS) {
                AtomicReferenceArray<Folio>[] d = dir;
                if (c >= d.length) {
                    c = DIR_CHUNKS;
                    continue;
                }
                w = d[(int) c];
            } else {
                Map.Entry<Long, AtomicReferenceArray<Folio>> e = far.ceilingEntry(c);
                if (e == null || e.getKey() > lastChunk) {
                    return -1;
                }
                c = e.getKey();
                w = e.getValue();
            }
            if (w != null) {
                long base = c << SHIFT;
                for (int i = (int) (Math.max(from, base) - base); i < CHUNK && base + i <= to; i++) {
                    if (w.get(i) != null) {
                        return base + i;
                    }
                }
            }
            c++;
            from = c << SHIFT;
        }
        return -1;
    }

    /** Appends the folios holding a page with index in [from, to] to {@code out}, in order, each once. */
    void collect(long from, long to, List<Folio> out) {
        for (long i = next(from, to); i >= 0; ) {
            Folio f = get(i);
            long after = i + 1;
            if (f != null) {
                out.add(f);
                after = Math.max(after, f.nextIndex());
            }
            i = after > to || after <= 0 ? -1 : next(after, to);
        }
    }
}
