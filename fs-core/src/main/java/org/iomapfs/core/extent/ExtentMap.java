package org.iomapfs.core.extent;

import org.iomapfs.core.store.ExtentRecord;
import org.iomapfs.core.store.MetaStore;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.lockdep.TrackedRwLock;

/**
 * The data fork of one inode: delalloc, unwritten and written extents by file block, changed only under
 * the inode's extent lock ({@link #ilock}, XFS's ILOCK) held exclusive and read under it held shared.
 *
 * <p>{@link #seq()} is XFS's {@code if_seq}: every insert, remove and update bumps it (xfs_iext_inc_seq in
 * xfs_iext_insert/xfs_iext_remove/xfs_iext_update_extent), so a cached mapping can be validated by comparing
 * the sequence sampled under the lock. Real extents are mirrored into the metadata store as they change;
 * callers wrap each operation in {@link MetaStore#update} so a commit sees it whole.
 */
public final class ExtentMap {
    private final long ino;
    private final MetaStore store;
    private final Allocator alloc;
    public final TrackedRwLock ilock = new TrackedRwLock(LockOrder.ILOCK);
    private final TreeMap<Long, Extent> map = new TreeMap<>();
    private volatile long seq;
    /**
     * The extent the last {@link #find} returned and the sequence it was found at (published by the volatile
     * write of {@link #foundSeq}): a lookup at the same sequence inside it needs no tree walk, which would box
     * the key and copy an entry. The sequence changes only under the ILOCK exclusive, so every pair written
     * at one sequence describes the map as it is.
     */
    private Extent found;
    private volatile long foundSeq = -1;
    private long delallocBlocks;
    private long realBlocks;

    public ExtentMap(long ino, MetaStore store, Allocator alloc) {
        this.ino = ino;
        this.store = store;
        this.alloc = alloc;
    }

    /** Loads the persisted extents at mount; no sequence bump, nothing written. */
    public void load(List<ExtentRecord> records) {
        for (ExtentRecord r : records) {
            Extent e = new Extent(r.fileBlock(), r.blockCount(), r.unwritten() ? ExtentType.UNWRITTEN : ExtentType.WRITTEN,
                    r.diskBlock());
            map.put(e.start(), e);
            realBlocks += e.len();
        }
    }

    public long seq() { return seq; }

    private void checkRead() {
        if (ilock.getReadHoldCount() == 0 && !ilock.isWriteLockedByCurrentThread()) {
            throw new IllegalStateException("extent map of inode " + ino + " read without its ILOCK");
        }
    }

    private void checkWrite() {
        if (!ilock.isWriteLockedByCurrentThread()) {
            throw new IllegalStateException("extent map of inode " + ino + " changed without its ILOCK exclusive");
        }
    }

    // --- lookups (ILOCK shared or exclusive) --------------------------------------------------------

    /** The extent containing {@code block}, or null for a hole. */
    public Extent find(long block) {
        checkRead();
        long s = seq;
        if (foundSeq == s) {
            Extent c = found;
            if (c != null && c.contains(block)) {
                return c;
            }
        }
        Map.Entry<Long, Extent> e = map.floorEntry(block);
        Extent hit = e != null && e.getValue().contains(block) ? e.getValue() : null;
        if (hit != null) {
            found = hit;
            foundSeq = s;
        }
        return hit;
    }

    /** Start of the next extent at or after {@code block}, or Long.MAX_VALUE: where a hole at block ends. */
    public long holeEnd(long block) {
        checkRead();
        Long k = map.ceilingKey(block);
        return k == null ? Long.MAX_VALUE : k;
    }

    /** Extents overlapping [start, end), in order. */
    public List<Extent> overlapping(long start, long end) {
        checkRead();
        List<Extent> out = new ArrayList<>();
        Map.Entry<Long, Extent> first = map.floorEntry(start);
        long from = first != null && first.getValue().end() > start ? first.getKey() : start;
        for (Extent e : map.subMap(from, true, end, false).values()) {
            out.add(e);
        }
        return out;
    }

    public List<Extent> all() {
        checkRead();
        return new ArrayList<>(map.values());
    }

    public long delallocBlocks() { return delallocBlocks; }

    public long realBlocks() { return realBlocks; }

    // --- raw changes: every one bumps the sequence ----------------------------------------------------

    private void put(Extent e) {
        map.put(e.start(), e);
        account(e, 1);
        if (e.type() != ExtentType.DELALLOC) {
            store.putExtent(ino, new ExtentRecord(e.start(), e.len(), e.disk(), e.type() == ExtentType.UNWRITTEN));
        }
        seq++;
    }

    private void remove(Extent e) {
        map.remove(e.start());
        account(e, -1);
        if (e.type() != ExtentType.DELALLOC) {
            store.removeExtent(ino, e.start());
        }
        seq++;
    }

    private void account(Extent e, int sign) {
        if (e.type() == ExtentType.DELALLOC) {
            delallocBlocks += sign * e.len();
        } else {
            realBlocks += sign * e.len();
        }
    }

    /** Makes sure no extent crosses {@code block}. */
    private void splitAt(long block) {
        Extent e = find(block);
        if (e != null && e.start() < block) {
            remove(e);
            put(e.slice(e.start(), block));
            put(e.slice(block, e.end()));
        }
    }

    /** Splits at both ends and returns the extents inside [start, end). */
    private List<Extent> carve(long start, long end) {
        splitAt(start);
        splitAt(end);
        return overlapping(start, end);
    }

    /** Merges neighbours around {@code block} where type and disk address continue. */
    private void mergeAround(long block) {
        Extent right = find(block);
        Map.Entry<Long, Extent> le = map.lowerEntry(block);
        if (right == null || le == null || right.start() != block) {
            return;
        }
        Extent left = le.getValue();
        if (left.mergeableWith(right)) {
            remove(left);
            remove(right);
            put(new Extent(left.start(), left.len() + right.len(), left.type(), left.disk()));
        }
    }

    // --- operations (ILOCK exclusive, inside MetaStore.update) -------------------------------------

    /**
     * xfs_bmapi_reserve_delalloc over the holes of [start, end): reserves blocks (ENOSPC here, before anything
     * changes) and inserts delalloc extents. Returns the number of blocks newly reserved.
     */
    public long reserveDelalloc(long start, long end) {
        checkWrite();
        List<long[]> holes = holes(start, end);
        long total = holes.stream().mapToLong(h -> h[1] - h[0]).sum();
        if (total == 0) {
            return 0;
        }
        alloc.reserve(total);
        for (long[] h : holes) {
            put(new Extent(h[0], h[1] - h[0], ExtentType.DELALLOC, -1));
            mergeAround(h[0]);
            mergeAround(h[1]);
        }
        return total;
    }

    private List<long[]> holes(long start, long end) {
        List<long[]> holes = new ArrayList<>();
        long pos = start;
        for (Extent e : overlapping(start, end)) {
            if (e.start() > pos) {
                holes.add(new long[]{pos, e.start()});
            }
            pos = Math.max(pos, e.end());
        }
        if (pos < end) {
            holes.add(new long[]{pos, end});
        }
        return holes;
    }

    /**
     * xfs_bmapi_convert_delalloc for writeback: allocates real blocks for the whole delalloc extent that
     * contains {@code block}, as unwritten extents (XFS_BMAPI_PREALLOC since a5949d3faedf), and returns the
     * one covering {@code block}.
     */
    public Extent convertDelalloc(long block) {
        checkWrite();
        Extent d = find(block);
        if (d == null || d.type() != ExtentType.DELALLOC) {
            throw new IllegalStateException("convert of non-delalloc block " + block + " of inode " + ino);
        }
        remove(d);
        long fileBlock = d.start();
        for (long[] chunk : alloc.allocate(d.len(), goal(d.start()), true)) {
            put(new Extent(fileBlock, chunk[1], ExtentType.UNWRITTEN, chunk[0]));
            fileBlock += chunk[1];
        }
        mergeAround(d.start());
        mergeAround(d.end());
        return find(block);
    }

    /** A disk block near the previous real extent, so files stay contiguous. */
    private long goal(long fileBlock) {
        Map.Entry<Long, Extent> e = map.lowerEntry(fileBlock);
        while (e != null && e.getValue().type() == ExtentType.DELALLOC) {
            e = map.lowerEntry(e.getKey());
        }
        return e == null ? 0 : e.getValue().disk() + e.getValue().len() + (fileBlock - e.getValue().end());
    }

    /**
     * Allocates unwritten blocks for holes and delalloc in [start, end) (xfs_bmapi_write with PREALLOC, used
     * by fallocate and direct writes). Real extents are left as they are. ENOSPC before any change.
     * Returns the number of blocks allocated.
     */
    public long allocUnwritten(long start, long end) {
        checkWrite();
        List<long[]> holes = holes(start, end);
        long holeBlocks = holes.stream().mapToLong(h -> h[1] - h[0]).sum();
        alloc.ensureAvailable(holeBlocks);
        long n = 0;
        for (Extent e : carve(start, end)) {
            if (e.type() == ExtentType.DELALLOC) {
                n += e.len();
                convertDelalloc(e.start());
            }
        }
        for (long[] h : holes) {
            long fileBlock = h[0];
            for (long[] chunk : alloc.allocate(h[1] - h[0], goal(h[0]), false)) {
                put(new Extent(fileBlock, chunk[1], ExtentType.UNWRITTEN, chunk[0]));
                fileBlock += chunk[1];
            }
            n += h[1] - h[0];
            mergeAround(h[0]);
            mergeAround(h[1]);
        }
        return n;
    }

    /** xfs_iomap_write_unwritten: unwritten -> written over [start, end), at I/O completion. */
    public void convertUnwritten(long start, long end) {
        checkWrite();
        for (Extent e : carve(start, end)) {
            if (e.type() == ExtentType.UNWRITTEN) {
                remove(e);
                put(e.withType(ExtentType.WRITTEN));
            }
        }
        for (Extent e : overlapping(start, end)) {
            mergeAround(e.start());
        }
        mergeAround(end);
    }

    /**
     * xfs_bmap_punch_delalloc_range: removes only the delalloc extents in [start, end) and releases their
     * reservation; real extents are untouched. Returns the blocks punched.
     */
    public long punchDelalloc(long start, long end) {
        checkWrite();
        long n = 0;
        for (Extent e : overlapping(start, end)) {
            if (e.type() != ExtentType.DELALLOC) {
                continue;
            }
            long s = Math.max(start, e.start());
            long t = Math.min(end, e.end());
            splitAt(s);
            splitAt(t);
            remove(find(s));
            alloc.unreserve(t - s);
            n += t - s;
        }
        return n;
    }

    /** xfs_bunmapi over [start, end): removes every extent, freeing real blocks and delalloc reservations. */
    public void punch(long start, long end) {
        checkWrite();
        for (Extent e : carve(start, end)) {
            remove(e);
            if (e.type() == ExtentType.DELALLOC) {
                alloc.unreserve(e.len());
            } else {
                alloc.free(e.disk(), e.len());
            }
        }
    }

    /** Drops everything (inode eviction). */
    public void removeAll() {
        punch(0, Long.MAX_VALUE);
    }
}
