package org.iomapfs.core.pagecache;

import java.util.concurrent.locks.LockSupport;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.sched.Sched;

import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.bugs.BugSwitches;

import org.iomapfs.core.metrics.EngineMetrics;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * What is global about the page cache: the memory budget, the reclaim queue, dirty accounting and the set
 * of address spaces with dirty folios (what the flusher walks).
 *
 * <p>Reclaim is a clock over the LRU list of cached folios (intrusive, doubly linked through the folios, so
 * a folio leaves it in O(1) when it leaves its mapping), deciding per folio with a trylock as
 * {@code shrink_folio_list} does: a folio is evicted only if it is clean, unlocked, not under writeback,
 * not mapped and not maybe-pinned. It never blocks, so it may run from any context.
 */
public final class PageCache {
    private static final long SCAN_BATCH = 32; // SWAP_CLUSTER_MAX
    private static final long DIRTY_LIMIT_PERCENT = 50;
    /** One throttling sleep, and MAX_PAUSE (200 ms) without progress, after which throttling gives up. */
    private static final long PAUSE_NANOS = 2_000_000L;
    private static final long MAX_PAUSE_NANOS = 200_000_000L;
    /** The least freed folio memory kept for reuse, whatever the budget. */
    private static final long MIN_POOL_BYTES = 4 << 20;
    /** The largest folio order a mapping may use (its FolioState bounds it further by block size). */
    public static final int MAX_FOLIO_ORDER = FolioTable.SHIFT;
    /**
     * The default largest order of a new folio on the buffered write path: 256 KiB, the most {@link FolioState}
     * describes with 4 KiB blocks (the kernel goes up to MAX_PAGECACHE_ORDER, a PMD, and makes a 1 MiB folio for
     * a 1 MiB write). XFS has had large folios since 5.18 (6795801366da "xfs: Support large folios"), on the
     * write path since 6.6; 0 gives the single-page folios of the kernels the bug catalog's fixes were written for.
     */
    public static final int DEFAULT_MAX_FOLIO_ORDER = 6;
    private final FolioPool[] pools = new FolioPool[MAX_FOLIO_ORDER + 1];
    /** Bytes in the pools of every order, and the most they may hold ({@link #setBudgetBytes}). */
    final AtomicLong pooledBytes = new AtomicLong();
    private volatile long poolCapBytes = MIN_POOL_BYTES;
    private volatile int maxFolioOrder = DEFAULT_MAX_FOLIO_ORDER;
    /** Each reclaiming thread's isolation batch, so that reclaim on the allocation path allocates nothing. */
    private static final ThreadLocal<Folio[]> BATCH = new ThreadLocal<>();
    private final EngineMetrics metrics;
    private volatile long budgetFolios;
    /**
     * Guards the LRU list: head, tail, length and each folio's links and LRU flags (lruvec->lru_lock). A leaf
     * in the lock order: nothing is taken under it, so it may be taken holding anything.
     */
    private final Object lruLock = new Object();
    private Folio lruHead;
    private Folio lruTail;
    private long lruLength;
    final Set<AddressSpace> dirtySpaces = ConcurrentHashMap.newKeySet();
    private volatile Runnable wakeFlusher = () -> { };
    private volatile long dirtyThreshold = Long.MAX_VALUE;

    private volatile BugSwitches bugs;
    private volatile Consumer<Folio> onEvict = f -> { };

    /** The bug switches of the engine this cache serves, and who hears of each eviction (hooks, trace). */
    public void attach(BugSwitches bugs, Consumer<Folio> onEvict) {
        this.bugs = bugs;
        this.onEvict = onEvict;
    }

    public PageCache(EngineMetrics metrics, long budgetBytes) {
        this.metrics = metrics;
        for (int o = 0; o <= MAX_FOLIO_ORDER; o++) {
            pools[o] = new FolioPool(Folio.PAGE_SIZE << o, this);
        }
        setBudgetBytes(budgetBytes);
    }

    /** The largest order the buffered write path gives a new folio (control key max_folio_order). */
    public int maxFolioOrder() { return maxFolioOrder; }

    public void setMaxFolioOrder(int order) {
        if (order < 0 || order > MAX_FOLIO_ORDER) {
            throw new IllegalArgumentException("folio order " + order + " outside 0.." + MAX_FOLIO_ORDER);
        }
        maxFolioOrder = order;
    }

    public EngineMetrics metrics() { return metrics; }

    public void setBudgetBytes(long bytes) {
        if (bytes < Folio.PAGE_SIZE) {
            throw new IllegalArgumentException("page-cache budget below one page: " + bytes);
        }
        budgetFolios = bytes / Folio.PAGE_SIZE;
        // Free memory up to twice the budget: a full cache's worth for each of two folio sizes, so a cache that
        // turns over from one size to the other (256 KiB write folios, single-page read or fault folios) and back
        // reuses what the other size freed instead of allocating anew; no more than a quarter of the heap.
        poolCapBytes = Math.max(MIN_POOL_BYTES, Math.min(2 * bytes, Runtime.getRuntime().maxMemory() / 4));
    }

    long poolCapBytes() { return poolCapBytes; }

    public long budgetBytes() { return budgetFolios * Folio.PAGE_SIZE; }

    /**
     * Cached pages: a large folio counts each of its pages, as NR_FILE_PAGES and NR_FILE_DIRTY do
     * (node_stat_mod_folio by folio_nr_pages), so the budget and the dirty limits are in pages whatever the orders.
     */
    public long cachedFolios() { return metrics.cachedFolios.get(); }

    /** Dirty pages (see {@link #cachedFolios}). */
    public long dirtyFolios() { return metrics.dirtyFolios.get(); }

    /** Dirty folios above which dirtying a folio wakes the flusher (the dirty background threshold). */
    public void setDirtyThreshold(long folios) { dirtyThreshold = folios; }

    void dirtied() {
        if (metrics.dirtyFolios.get() > dirtyThreshold) {
            wakeFlusher.run();
        }
    }

    /** Dirty folios a writer may leave before it is throttled: vm.dirty_ratio's role, as a share of the budget. */
    public long dirtyLimit() { return Math.max(budgetFolios * DIRTY_LIMIT_PERCENT / 100, 1); }

    /**
     * balance_dirty_pages (mm/page-writeback.c), called by a writer after it dirtied folios, holding no folio
     * lock: over the dirty limit it wakes the flusher and pauses until writeback brought the dirty folios back
     * under it. Without this a writer faster than writeback grew the cache without bound, and the daemon died
     * of an OutOfMemoryError with the dirty data in it. The kernel also pauses in timed sleeps (io_schedule_timeout,
     * at most MAX_PAUSE) rather than waiting for an event. A pause in which writeback cleaned nothing ends the
     * throttling (writeback failing, or held at a test's hook point), so a throttled writer never hangs; and
     * threads the schedule explorer runs are not throttled (it runs no flusher). In the lock order this is a wait
     * for writeback: the caller may hold i_rwsem or invalidate_lock, which writeback never takes.
     */
    public void balanceDirty() {
        long limit = dirtyLimit();
        long dirty = metrics.dirtyFolios.get();
        if (dirty <= limit || (Sched.ON && Sched.controlled())) {
            return;
        }
        LockOrder.WRITEBACK.waitFor();
        metrics.dirtyThrottled.increment();
        long lastProgress = System.nanoTime();
        long least = dirty;
        while (dirty > limit) {
            wakeFlusher.run();
            LockSupport.parkNanos(PAUSE_NANOS);
            dirty = metrics.dirtyFolios.get();
            if (dirty < least) {
                least = dirty;
                lastProgress = System.nanoTime();
            } else if (System.nanoTime() - lastProgress > MAX_PAUSE_NANOS) {
                return;
            }
        }
    }

    /** The flusher to wake when reclaim finds only dirty folios or the dirty threshold is crossed. */
    public void setFlusher(Runnable wake) { this.wakeFlusher = wake; }

    public Set<AddressSpace> dirtySpaces() { return dirtySpaces; }

    /** Memory for a new folio of that order (folio_alloc): a freed folio's array, zeroed, or a new one. */
    byte[] allocData(int order) { return pools[order].take(); }

    /** Memory for a new folio its creator overwrites whole: not zeroed (see {@link Folio#markUndefined}). */
    byte[] allocDataUnzeroed(int order) { return pools[order].takeUnzeroed(); }

    /** Memory of a folio that was never published in a mapping (a lost insertion race), or that {@link #free} freed. */
    void freeData(byte[] data) { pools[Integer.numberOfTrailingZeros(data.length / Folio.PAGE_SIZE)].give(data); }

    /**
     * folio_put of a folio that truncate, punch or invalidation deleted (the caller holds its lock): its memory is
     * reused if no one can reach it, as after reclaim. A pinned folio (a direct I/O may still store into it), one
     * under writeback, or one a reader holds a reference to is left to the collector.
     */
    void free(Folio f) {
        if (!f.maybeDmaPinned() && !f.isWriteback() && f.tryFreeze()) {
            freeData(f.data);
        }
    }

    /** Freed folio arrays waiting for reuse, of every order. */
    public int pooledFolios() {
        int n = 0;
        for (FolioPool p : pools) {
            n += p.size();
        }
        return n;
    }

    /**
     * A new folio joined a mapping. Over the budget, the allocating thread reclaims SWAP_CLUSTER_MAX folios, as
     * direct reclaim does (try_to_free_pages asks for nr_to_reclaim = SWAP_CLUSTER_MAX however few pages the
     * allocation needs), not the whole excess: when the excess is dirty and cannot be evicted, reclaiming all of
     * it scanned the whole LRU list on every new folio. Reclaiming a full batch rather than the one folio over
     * the budget leaves room for the next allocations, so a streaming writer isolates and puts back one batch
     * per SWAP_CLUSTER_MAX new folios, not per folio. The batch is at most 1/64 of the budget (the kernel's
     * watermark gaps are a small share of the zone), so a budget of a few folios is still kept to the folio. A
     * large folio may ask for up to twice its own pages while the cache is over: a batch of SWAP_CLUSTER_MAX pages
     * frees no more than the one folio it added, so every scan that met only referenced folios left that folio's
     * pages over the budget for good (a mount writing 1 MiB at a time, 256 KiB folios, held 576 MiB against a 256
     * MiB budget after 36 s, 40 MiB more every 6 s); the kernel's allocator does not proceed without the pages.
     */
    void added(Folio f) {
        metrics.cachedFolios.addAndGet(f.nr());
        lruAdd(f);
        long excess = metrics.cachedFolios.get() - budgetFolios;
        if (excess > 0) {
            long batch = Math.min(SCAN_BATCH, Math.max(excess, budgetFolios / 64));
            shrink(Math.max(batch, Math.min(excess, 2L * f.nr())));
        }
    }

    /**
     * A folio left its mapping (truncate, punch, invalidation or reclaim): it leaves the LRU list too, in O(1),
     * so that neither the list nor the folio's data outlives the cache entry. In the kernel the page cache's
     * reference goes with filemap_remove_folio (mm/filemap.c: __filemap_remove_folio, then filemap_free_folio
     * drops the cache's references) and the last folio_put takes the folio off its LRU list
     * (__page_cache_release -> lruvec_del_folio in mm/swap.c); here the list is the only other holder, so the
     * unlink is done at removal.
     */
    void removed(Folio f, boolean wasCached) {
        if (wasCached) {
            metrics.cachedFolios.addAndGet(-f.nr());
        }
        synchronized (lruLock) {
            f.lruGone = true;
            if (f.onLru) {
                unlink(f);
            }
        }
    }

    /** Folios on the LRU list (isolated ones excluded): at most the cached folios, whatever was removed. */
    public long lruLength() {
        synchronized (lruLock) {
            return lruLength;
        }
    }

    private void lruAdd(Folio f) {
        synchronized (lruLock) {
            if (!f.lruGone && !f.onLru) {
                linkTail(f);
            }
        }
    }

    /**
     * putback_lru_folio: the first {@code scanned} folios of the batch go back at the tail (reclaim looked at
     * them and kept them), the rest back at the head in their order (never looked at: they stay the oldest, so
     * that stopping early does not make them younger than the folios just added). A folio that left its
     * mapping meanwhile is not put back.
     */
    private void putback(Folio[] batch, int scanned, int n) {
        synchronized (lruLock) {
            for (int i = 0; i < scanned; i++) {
                Folio f = batch[i];
                if (f != null && !f.lruGone && !f.onLru) {
                    linkTail(f);
                }
            }
            for (int i = n - 1; i >= scanned; i--) {
                Folio f = batch[i];
                if (f != null && !f.lruGone && !f.onLru) {
                    linkHead(f);
                }
            }
            java.util.Arrays.fill(batch, 0, n, null);
        }
    }

    /** isolate_lru_folios: takes up to {@code max} folios off the head of the list; returns how many. */
    private int isolate(Folio[] batch, int max) {
        synchronized (lruLock) {
            int n = 0;
            while (n < max && lruHead != null) {
                Folio f = lruHead;
                unlink(f);
                batch[n++] = f;
            }
            return n;
        }
    }

    private void linkTail(Folio f) {
        f.lruPrev = lruTail;
        f.lruNext = null;
        if (lruTail == null) {
            lruHead = f;
        } else {
            lruTail.lruNext = f;
        }
        lruTail = f;
        f.onLru = true;
        lruLength++;
    }

    private void linkHead(Folio f) {
        f.lruNext = lruHead;
        f.lruPrev = null;
        if (lruHead == null) {
            lruTail = f;
        } else {
            lruHead.lruPrev = f;
        }
        lruHead = f;
        f.onLru = true;
        lruLength++;
    }

    private void unlink(Folio f) {
        if (f.lruPrev == null) {
            lruHead = f.lruNext;
        } else {
            f.lruPrev.lruNext = f.lruNext;
        }
        if (f.lruNext == null) {
            lruTail = f.lruPrev;
        } else {
            f.lruNext.lruPrev = f.lruPrev;
        }
        f.lruPrev = null;
        f.lruNext = null;
        f.onLru = false;
        lruLength--;
    }

    /**
     * Reclaims up to {@code target} pages (a large folio counts its pages); returns how many were evicted. Like
     * shrink_inactive_list, one call scans a bounded batch (a few times the target, at least SWAP_CLUSTER_MAX)
     * rather than the whole list, so an allocation past the budget costs the same whatever the cache holds.
     * Folios are isolated from the list in batches under the LRU lock and judged outside it, each with a trylock:
     * reclaim never blocks.
     */
    public long shrink(long target) {
        long evicted = 0;
        long scan = Math.min(2 * lruLength(), Math.max(SCAN_BATCH, 4 * target));
        boolean sawDirty = false;
        Folio[] batch = takeBatch();
        while (evicted < target && scan > 0) {
            int n = isolate(batch, (int) Math.min(SCAN_BATCH, scan));
            if (n == 0) {
                break;
            }
            scan -= n;
            int scanned = 0;
            for (; scanned < n && evicted < target; scanned++) {
                Folio f = batch[scanned];
                int i = scanned;
                if (f.referenced) {
                    f.referenced = false;
                    continue;
                }
                switch (tryEvict(f)) {
                    case EVICTED -> {
                        evicted += f.nr();
                        batch[i] = null;
                    }
                    case GONE -> batch[i] = null;
                    case DIRTY -> sawDirty = true;
                    case KEPT -> { }
                }
            }
            putback(batch, scanned, n);
        }
        BATCH.set(batch);
        if (evicted < target && sawDirty) {
            wakeFlusher.run();
        }
        return evicted;
    }

    /** Evicts every clean folio it can (echo 1 > /proc/sys/vm/drop_caches). */
    public long dropClean() {
        long evicted = 0;
        long left = lruLength();
        Folio[] batch = takeBatch();
        while (left > 0) {
            int n = isolate(batch, (int) Math.min(SCAN_BATCH, left));
            if (n == 0) {
                break;
            }
            left -= n;
            for (int i = 0; i < n; i++) {
                Outcome o = tryEvict(batch[i]);
                if (o == Outcome.EVICTED) {
                    evicted += batch[i].nr();
                }
                if (o == Outcome.EVICTED || o == Outcome.GONE) {
                    batch[i] = null;
                }
            }
            putback(batch, n, n);
        }
        BATCH.set(batch);
        return evicted;
    }

    /** This thread's batch, taken out while in use so that a reclaim nested in an eviction hook gets its own. */
    private static Folio[] takeBatch() {
        Folio[] b = BATCH.get();
        if (b == null) {
            return new Folio[(int) SCAN_BATCH];
        }
        BATCH.set(null);
        return b;
    }

    private enum Outcome { EVICTED, GONE, DIRTY, KEPT }

    private Outcome tryEvict(Folio f) {
        if (!f.tryLock()) {
            return Outcome.KEPT;
        }
        try {
            if (f.isRemoved()) {
                return Outcome.GONE;
            }
            if (f.isDirty()) {
                return Outcome.DIRTY;
            }
            if (f.isWriteback() || f.isMapped()) {
                return Outcome.KEPT;
            }
            if (f.maybeDmaPinned()) {
                // A folio that a direct I/O may still be writing into is not reclaimed (folio_maybe_dma_pinned,
                // FOLL_PIN tracking since 3faa52c03f44). Bug gup-dirty-without-state: before pin tracking,
                // shrink_page_list released the private state (try_to_release_page) and only then failed to
                // remove the page because of the extra reference.
                if (bugs != null && bugs.buggy(Bug.GUP_DIRTY_WITHOUT_STATE) && f.hasState()) {
                    f.detachState();
                    f.markStateReleasedUnderPin();
                }
                return Outcome.KEPT;
            }
            if (!f.tryFreeze()) {
                // a reader is copying out of it without the lock (folio_ref_freeze failing in __remove_mapping)
                return Outcome.KEPT;
            }
            f.detachState();
            f.mapping.delete(f);
            metrics.cacheEvictions.increment();
            onEvict.accept(f);
            freeData(f.data);
            return Outcome.EVICTED;
        } finally {
            f.unlock();
        }
    }
}
