package org.iomapfs.core.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import org.iomapfs.core.sched.Sched;
import org.iomapfs.core.lockdep.LockOrder;

/**
 * One folio of the page cache: {@code 1 << order} pages of {@link #PAGE_SIZE} bytes at an index aligned to
 * that many pages. Large folios (order above 0) come only from the buffered write path, sized by the write
 * (iomap_get_folio's fgf_set_order, "iomap: Create large folios in the buffered write path", 6.6); every other
 * path creates single-page folios and finds a large one at any of its indices, as the page cache's multi-index
 * entries do. The lock is a bare binary semaphore,
 * like the kernel's PG_locked: not reentrant and not owned, so writeback can lock in one thread and I/O
 * completion can end writeback in another. Flag changes are made under this object's monitor; waiters for
 * writeback wait on it.
 *
 * <p>Per-block state ({@link FolioState}) exists only when blocks are smaller than the folio and is attached
 * by the first partial read or write, as {@code ifs_alloc}.
 */
public final class Folio {
    public static final int PAGE_SIZE = 4096;
    public static final int PAGE_SHIFT = 12;

    public final AddressSpace mapping;
    /** The first page's index (folio->index), a multiple of {@link #nr()}. */
    public final long index;
    private final int order;
    private volatile Thread owner;
    private int wpGen;
    private boolean releasedUnderPin;
    final byte[] data;
    /**
     * Where the bytes that still hold a previous folio's data begin, or -1 when every byte is defined. A folio
     * created for a write that covers it whole gets a pooled array without zeroing it (the kernel's
     * filemap_alloc_folio does not zero either: the write defines every byte); what the write did not copy
     * is zeroed when the folio is unlocked, before anyone else can see it. Guarded by the folio lock.
     */
    private int undefinedFrom = -1;
    /**
     * References beyond the page cache's own (folio_get/folio_put): a reader copying outside the folio lock
     * holds one, so reclaim cannot free the memory under it. {@link #FROZEN} once reclaim froze it at zero
     * (folio_ref_freeze in __remove_mapping): no reference can be taken again and the memory may be reused.
     */
    private volatile int refs;
    private static final int FROZEN = Integer.MIN_VALUE;

    private final FolioLock lock = new FolioLock();
    private boolean uptodate;
    private boolean dirty;
    private boolean writeback;
    private boolean removed;
    private int mapcount;
    private FolioState ifs;
    /** Outstanding ioend blocks; writeback ends when it drops to zero (ifs->write_bytes_pending). */
    private volatile int writePending;
    /** Pins from in-process direct I/O into a mapping of this folio (FOLL_PIN). */
    private volatile int pins;
    /*
     * The three counters are fields of the folio updated through VarHandles, as _refcount and _pincount are words
     * of struct folio, rather than an AtomicInteger each: with {@link FolioLock} for a Semaphore, four objects
     * and 64 bytes fewer per folio created (StreamingWriteBench: 195 to 131 bytes), and reclaim, which reads the
     * lock, references and pins of the coldest folios, reaches them in two objects instead of five.
     */
    private static final VarHandle REFS;
    private static final VarHandle WRITE_PENDING;
    private static final VarHandle PINS;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            REFS = l.findVarHandle(Folio.class, "refs", int.class);
            WRITE_PENDING = l.findVarHandle(Folio.class, "writePending", int.class);
            PINS = l.findVarHandle(Folio.class, "pins", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    volatile boolean referenced = true;
    /** Links of the page cache's LRU list; these and the two flags below are guarded by {@code PageCache.lruLock}. */
    Folio lruPrev;
    Folio lruNext;
    /** On the LRU list (PG_lru); false while reclaim has it isolated. */
    boolean onLru;
    /** Deleted from its mapping: never (re)linked on the LRU, so nothing keeps the folio and its data reachable. */
    boolean lruGone;

    /**
     * A new folio over {@code data}, {@code PAGE_SIZE << order} bytes: zeros (new, or zeroed by the pool), or
     * undefined bytes its creator overwrites ({@link #markUndefined}).
     */
    Folio(AddressSpace mapping, long index, int order, byte[] data) {
        if (data.length != PAGE_SIZE << order || (index & ((1L << order) - 1)) != 0) {
            throw new IllegalArgumentException("folio of order " + order + " at index " + index + " over " + data.length + " bytes");
        }
        this.mapping = mapping;
        this.index = index;
        this.order = order;
        this.data = data;
    }

    public long pos() { return index << PAGE_SHIFT; }

    /** folio_size. */
    public int size() { return PAGE_SIZE << order; }

    /** folio_nr_pages. */
    public int nr() { return 1 << order; }

    public int order() { return order; }

    /** The index just past this folio (folio_next_index). */
    public long nextIndex() { return index + (1L << order); }

    public byte[] data() { return data; }

    /** A new locked folio over a reused array that was not zeroed: nothing in it is defined yet. */
    void markUndefined() { undefinedFrom = 0; }

    /**
     * The holder of the lock copied the folio's bytes [0, end): they are defined. Only the creator of an
     * undefined folio (its write starts at the folio's first byte) calls it with anything but the full size.
     */
    public void definedUpTo(int end) {
        if (undefinedFrom >= 0) {
            undefinedFrom = end >= data.length ? -1 : Math.max(undefinedFrom, end);
        }
    }

    // --- lock -------------------------------------------------------------------------------------

    public void lock() {
        LockOrder.FOLIO.acquire();
        if (!(Sched.ON && Sched.acquire("folio lock " + index, lock::tryAcquire, () -> lock.availablePermits() > 0))) {
            lock.acquireUninterruptibly();
        }
        owner = Thread.currentThread();
    }

    public boolean tryLock() {
        if (lock.tryAcquire()) {
            owner = Thread.currentThread();
            LockOrder.FOLIO.acquiredTry();
            return true;
        }
        return false;
    }

    /** A bounded wait for the lock, so that a self-deadlock can be detected instead of hanging. */
    public boolean lock(long timeoutMs) throws InterruptedException {
        if (lock.tryAcquire(timeoutMs, TimeUnit.MILLISECONDS)) {
            owner = Thread.currentThread();
            LockOrder.FOLIO.acquiredTry();
            return true;
        }
        return false;
    }

    public void unlock() {
        if (lock.availablePermits() != 0) {
            throw new IllegalStateException("unlock of an unlocked folio " + this);
        }
        if (undefinedFrom >= 0) {
            java.util.Arrays.fill(data, undefinedFrom, data.length, (byte) 0);
            undefinedFrom = -1;
        }
        owner = null;
        lock.release();
        LockOrder.FOLIO.release();
        if (Sched.ON) {
            Sched.released("folio lock " + index);
        }
    }

    /** Whether the calling thread holds the lock: waiting for it again could never end. */
    public boolean lockedByCurrentThread() { return owner == Thread.currentThread(); }

    /** Write-protection generation: folio_mkclean bumps it, so mappings must fault before storing again. */
    public synchronized int wpGen() { return wpGen; }

    /** folio_mkclean: write-protects every user mapping of the folio. */
    public synchronized void mkclean() { wpGen++; }

    public boolean isLocked() { return lock.availablePermits() == 0; }

    // --- references -------------------------------------------------------------------------------

    /**
     * folio_try_get: takes a reference unless reclaim has frozen the folio to free it; a caller that gets false
     * must look the folio up again (it is gone from its mapping). Never blocks.
     */
    public boolean tryGet() {
        while (true) {
            int r = refs;
            if (r < 0) {
                return false;
            }
            if (REFS.compareAndSet(this, r, r + 1)) {
                return true;
            }
        }
    }

    /** folio_put of a reference {@link #tryGet} took. */
    public void put() {
        if ((int) REFS.getAndAdd(this, -1) - 1 < 0) {
            throw new IllegalStateException("unbalanced folio put of " + this);
        }
    }

    /** folio_ref_freeze to zero extra references: true when nobody holds one, and then nobody can take one. */
    boolean tryFreeze() { return REFS.compareAndSet(this, 0, FROZEN); }

    // --- flags ------------------------------------------------------------------------------------

    public synchronized boolean isUptodate() { return uptodate; }

    public synchronized boolean isDirty() { return dirty; }

    public synchronized boolean isWriteback() { return writeback; }

    /** True once the folio was deleted from its mapping (folio->mapping == NULL). */
    public synchronized boolean isRemoved() { return removed; }

    public synchronized boolean isMapped() { return mapcount > 0; }

    /** folio_maybe_dma_pinned(). */
    public boolean maybeDmaPinned() { return pins > 0; }

    public void pin() { PINS.getAndAdd(this, 1); }

    /** One more block of this folio in an ioend. */
    public void writePendingInc() { WRITE_PENDING.getAndAdd(this, 1); }

    /** One block's I/O finished; returns how many remain. */
    public int writePendingDec() { return (int) WRITE_PENDING.getAndAdd(this, -1) - 1; }

    public void unpin() {
        if ((int) PINS.getAndAdd(this, -1) - 1 < 0) {
            throw new IllegalStateException("unbalanced unpin of " + this);
        }
    }

    public synchronized void map() { mapcount++; }

    public synchronized void unmap() {
        if (mapcount == 0) {
            throw new IllegalStateException("unbalanced unmap of " + this);
        }
        mapcount--;
    }

    public synchronized boolean hasState() { return ifs != null; }

    synchronized void markRemoved() { removed = true; }

    /** Marks the whole folio uptodate (folio_mark_uptodate). */
    public synchronized void markUptodate() {
        uptodate = true;
        if (ifs != null) {
            ifs.uptodate = ifs.all;
        }
    }

    /** Clears uptodate on the folio (the pre-5.19 writeback error path did this). */
    public synchronized void clearUptodate() {
        uptodate = false;
        if (ifs != null) {
            ifs.uptodate = 0;
        }
    }

    /** Attaches per-block state if blocks are smaller than the folio and none is attached (ifs_alloc). */
    public synchronized FolioState attachState(int blockSize) {
        int nblocks = size() / blockSize;
        if (ifs == null && nblocks > 1) {
            ifs = new FolioState(nblocks);
            // ifs_alloc: a folio already uptodate or dirty as a whole has every block so.
            if (uptodate) {
                ifs.uptodate = ifs.all;
            }
            if (dirty) {
                ifs.dirty = ifs.all;
            }
        }
        return ifs;
    }

    /** Releases per-block state (iomap_release_folio / ifs_free). */
    public synchronized void detachState() { ifs = null; }

    /** Reclaim freed this folio's state while a direct I/O pinned it (only the gup-dirty-without-state bug does). */
    public synchronized void markStateReleasedUnderPin() { releasedUnderPin = true; }

    public synchronized boolean stateReleasedUnderPin() { return releasedUnderPin && ifs == null; }

    /** iomap_set_range_uptodate: marks the blocks of [off, off+len) uptodate, and the folio once all are. */
    public synchronized void setRangeUptodate(int off, int len, int blockSize) {
        if (len <= 0) {
            return;
        }
        if (ifs == null) {
            uptodate = true;
            return;
        }
        int first = off / blockSize;
        int last = (off + len - 1) / blockSize;
        ifs.uptodate |= FolioState.range(first, last + 1);
        if (ifs.uptodate == ifs.all) {
            uptodate = true;
        }
    }

    public synchronized boolean blockUptodate(int block) {
        return uptodate || (ifs != null && FolioState.test(ifs.uptodate, block));
    }

    /** iomap_set_range_dirty: per-block dirty bits (no-op without per-block state). */
    public synchronized void setRangeDirty(int off, int len, int blockSize) {
        if (ifs == null || len <= 0) {
            return;
        }
        int first = off / blockSize;
        int last = (off + len - 1) / blockSize;
        ifs.dirty |= FolioState.range(first, last + 1);
    }

    public synchronized void clearRangeDirtyAll() {
        if (ifs != null) {
            ifs.dirty = 0;
        }
    }

    /** Whether block {@code block} has to be written: per-block dirty bit, or the whole folio without state. */
    public synchronized boolean blockDirty(int block) {
        return ifs == null || FolioState.test(ifs.dirty, block);
    }

    /** Sets the dirty flag; returns true if it was clean. Callers go through {@link AddressSpace#dirtyFolio}. */
    synchronized boolean testSetDirty() {
        boolean was = dirty;
        dirty = true;
        return !was;
    }

    /** folio_clear_dirty_for_io: returns whether it was dirty. */
    synchronized boolean testClearDirty() {
        boolean was = dirty;
        dirty = false;
        return was;
    }

    public synchronized void startWriteback() {
        if (writeback) {
            throw new IllegalStateException("writeback already set on " + this);
        }
        writeback = true;
    }

    synchronized void endWriteback() {
        writeback = false;
        notifyAll();
    }

    /** folio_wait_writeback. */
    public void waitWriteback() {
        if (lockedByCurrentThread()) {
            LockOrder.WRITEBACK.waitForExcept(LockOrder.FOLIO);
        } else {
            LockOrder.WRITEBACK.waitFor();
        }
        if (!(Sched.ON && Sched.await("writeback of folio " + index, () -> !isWriteback()))) {
            waitWritebackEnd();
        }
    }

    private synchronized void waitWritebackEnd() {
        boolean interrupted = false;
        while (writeback) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public synchronized String toString() {
        return "folio[ino=" + mapping.ino + " idx=" + index + (order > 0 ? " order=" + order : "") + (uptodate ? " U" : "") + (dirty ? " D" : "")
                + (writeback ? " WB" : "") + (removed ? " REMOVED" : "") + (mapcount > 0 ? " M" : "")
                + (pins > 0 ? " P" + pins : "") + (ifs != null ? " ifs" : "") + "]";
    }
}
