package org.iomapfs.core.extent;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.store.MetaStore;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Free space of the image and delalloc reservations. The innermost lock of the engine (see lockdep/LockOrder).
 *
 * <p>Reservations are taken when a buffered write or page fault creates delalloc, so ENOSPC is reported
 * there and never at writeback: converting reserved delalloc cannot fail. Freed blocks are "busy" (as XFS's
 * xfs_extent_busy) until the commit that records their freeing is durable: they are written to the persisted
 * free-space map at once, but handed out again only after that commit, so a crash can never leave a block
 * owned by one file on disk while it holds another file's data.
 */
public final class Allocator {
    private final MetaStore store;
    private final long dataBlocks;
    /** Allocatable free space, start -> length. */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    /** Mirror of the persisted free-space map: allocatable plus busy. */
    private final TreeMap<Long, Long> persisted = new TreeMap<>();
    private final List<long[]> busy = new ArrayList<>();
    private long freeBlocks;
    private long busyBlocks;
    private long reserved;

    public Allocator(MetaStore store, long dataBlocks) {
        this.store = store;
        this.dataBlocks = dataBlocks;
        for (long[] e : store.freeExtents()) {
            free.put(e[0], e[1]);
            persisted.put(e[0], e[1]);
            freeBlocks += e[1];
        }
    }

    public synchronized long freeBlocks() { return freeBlocks; }

    public synchronized long busyBlocks() { return busyBlocks; }

    public long dataBlocks() { return dataBlocks; }

    /** Blocks a new reservation or allocation may still take, counting busy blocks as soon free. */
    public synchronized long available() { return freeBlocks + busyBlocks - reserved; }

    /** Reserves {@code n} blocks for delalloc; ENOSPC if the free space not yet reserved is smaller. */
    public synchronized void reserve(long n) {
        ensureAvailable(n);
        reserved += n;
    }

    public synchronized void unreserve(long n) {
        if (n > reserved) {
            throw new IllegalStateException("unreserve " + n + " > reserved " + reserved);
        }
        reserved -= n;
    }

    /** ENOSPC unless {@code n} blocks can be allocated without touching reservations. */
    public synchronized void ensureAvailable(long n) {
        if (freeBlocks - reserved < n) {
            throw new FsException(Errno.ENOSPC, "no space left: " + n + " blocks wanted, "
                    + Math.max(0, freeBlocks - reserved) + " free and unreserved");
        }
    }

    /**
     * Allocates {@code n} blocks, as few extents as possible, preferring space at or after {@code goal}.
     * With {@code fromReservation} the blocks come out of an earlier {@link #reserve}; otherwise ENOSPC is
     * thrown when the unreserved free space is too small. Returns (start, length) pairs.
     */
    public synchronized List<long[]> allocate(long n, long goal, boolean fromReservation) {
        if (fromReservation) {
            if (n > reserved || n > freeBlocks) {
                throw new IllegalStateException("allocation of " + n + " reserved blocks with " + reserved
                        + " reserved and " + freeBlocks + " free");
            }
        } else {
            ensureAvailable(n);
        }
        List<long[]> out = new ArrayList<>();
        long left = n;
        while (left > 0) {
            Map.Entry<Long, Long> e = pick(left, goal);
            long take = Math.min(left, e.getValue());
            long start = e.getKey();
            carve(free, start, take);
            carvePersisted(start, take);
            out.add(new long[]{start, take});
            left -= take;
            goal = start + take;
        }
        freeBlocks -= n;
        if (fromReservation) {
            reserved -= n;
        }
        return out;
    }

    /** First extent at or after goal big enough for all of n, else the largest one. */
    private Map.Entry<Long, Long> pick(long n, long goal) {
        for (Map.Entry<Long, Long> e : free.tailMap(goal, true).entrySet()) {
            if (e.getValue() >= n) {
                return e;
            }
        }
        Map.Entry<Long, Long> best = null;
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            if (e.getValue() >= n) {
                return e;
            }
            if (best == null || e.getValue() > best.getValue()) {
                best = e;
            }
        }
        return best;
    }

    /** Frees blocks: persisted as free at once, allocatable after the next commit. Call inside an update. */
    public synchronized void free(long start, long len) {
        insertMerge(persisted, start, len, true);
        busy.add(new long[]{start, len});
        busyBlocks += len;
    }

    /** The busy extents now; pass them to {@link #busyCommitted} once a commit has made their frees durable. */
    public synchronized List<long[]> busySnapshot() { return new ArrayList<>(busy); }

    public synchronized void busyCommitted(List<long[]> snapshot) {
        for (long[] b : snapshot) {
            if (busy.remove(b)) {
                insertMerge(free, b[0], b[1], false);
                busyBlocks -= b[1];
                freeBlocks += b[1];
            }
        }
    }

    private void carvePersisted(long start, long len) {
        Map.Entry<Long, Long> e = persisted.floorEntry(start);
        long s = e.getKey();
        long l = e.getValue();
        persisted.remove(s);
        store.removeFree(s);
        if (start > s) {
            persisted.put(s, start - s);
            store.putFree(s, start - s);
        }
        long tail = s + l - (start + len);
        if (tail > 0) {
            persisted.put(start + len, tail);
            store.putFree(start + len, tail);
        }
    }

    private static void carve(TreeMap<Long, Long> m, long start, long len) {
        Map.Entry<Long, Long> e = m.floorEntry(start);
        if (e == null || e.getKey() + e.getValue() < start + len) {
            throw new IllegalStateException("carving [" + start + "," + (start + len) + ") outside free space");
        }
        long s = e.getKey();
        long l = e.getValue();
        m.remove(s);
        if (start > s) {
            m.put(s, start - s);
        }
        if (s + l > start + len) {
            m.put(start + len, s + l - (start + len));
        }
    }

    private void insertMerge(TreeMap<Long, Long> m, long start, long len, boolean persist) {
        Map.Entry<Long, Long> prev = m.floorEntry(start);
        if (prev != null && prev.getKey() + prev.getValue() > start) {
            throw new IllegalStateException("double free of block " + start);
        }
        Map.Entry<Long, Long> next = m.ceilingEntry(start);
        if (next != null && next.getKey() < start + len) {
            throw new IllegalStateException("double free of block " + next.getKey());
        }
        long s = start;
        long l = len;
        if (prev != null && prev.getKey() + prev.getValue() == start) {
            s = prev.getKey();
            l += prev.getValue();
            m.remove(prev.getKey());
            if (persist) {
                store.removeFree(prev.getKey());
            }
        }
        if (next != null && next.getKey() == start + len) {
            l += next.getValue();
            m.remove(next.getKey());
            if (persist) {
                store.removeFree(next.getKey());
            }
        }
        m.put(s, l);
        if (persist) {
            store.putFree(s, l);
        }
    }
}
