package org.iomapfs.core.pagecache;

import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.bugs.BugSwitches;

import org.iomapfs.core.metrics.EngineMetrics;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * What is global about the page cache: the memory budget, the reclaim queue, dirty accounting and the set
 * of address spaces with dirty folios (what the flusher walks).
 *
 * <p>Reclaim is a clock over the queue of cached folios, deciding per folio with a trylock as
 * {@code shrink_folio_list} does: a folio is evicted only if it is clean, unlocked, not under writeback,
 * not mapped and not maybe-pinned. It never blocks, so it may run from any context.
 */
public final class PageCache {
    private static final long SCAN_BATCH = 32; // SWAP_CLUSTER_MAX
    private final EngineMetrics metrics;
    private volatile long budgetFolios;
    private final ConcurrentLinkedQueue<Folio> lru = new ConcurrentLinkedQueue<>();
    // ConcurrentLinkedQueue.size() walks the whole queue; reclaim runs on every allocation past the budget
    private final AtomicLong lruLength = new AtomicLong();
    final Set<AddressSpace> dirtySpaces = ConcurrentHashMap.newKeySet();
    private volatile Runnable wakeFlusher = () -> { };
    private volatile long dirtyThreshold = Long.MAX_VALUE;
    private volatile Predicate<Folio> evictionVeto = f -> false;

    private volatile BugSwitches bugs;
    private volatile Consumer<Folio> onEvict = f -> { };

    /** The bug switches of the engine this cache serves, and who hears of each eviction (hooks, trace). */
    public void attach(BugSwitches bugs, Consumer<Folio> onEvict) {
        this.bugs = bugs;
        this.onEvict = onEvict;
    }

    public PageCache(EngineMetrics metrics, long budgetBytes) {
        this.metrics = metrics;
        setBudgetBytes(budgetBytes);
    }

    public EngineMetrics metrics() { return metrics; }

    public void setBudgetBytes(long bytes) {
        if (bytes < Folio.SIZE) {
            throw new IllegalArgumentException("page-cache budget below one folio: " + bytes);
        }
        budgetFolios = bytes / Folio.SIZE;
    }

    public long budgetBytes() { return budgetFolios * Folio.SIZE; }

    public long cachedFolios() { return metrics.cachedFolios.get(); }

    public long dirtyFolios() { return metrics.dirtyFolios.get(); }

    /** Dirty folios above which dirtying a folio wakes the flusher (the dirty background threshold). */
    public void setDirtyThreshold(long folios) { dirtyThreshold = folios; }

    void dirtied() {
        if (metrics.dirtyFolios.get() > dirtyThreshold) {
            wakeFlusher.run();
        }
    }

    /** The flusher to wake when reclaim finds only dirty folios or the dirty threshold is crossed. */
    public void setFlusher(Runnable wake) { this.wakeFlusher = wake; }

    /** An extra reason to keep a folio (fault injection targets); reclaim keeps it when this returns true. */
    public void setEvictionVeto(Predicate<Folio> veto) { this.evictionVeto = veto; }

    public Set<AddressSpace> dirtySpaces() { return dirtySpaces; }

    void added(Folio f) {
        metrics.cachedFolios.incrementAndGet();
        lruAdd(f);
        if (metrics.cachedFolios.get() > budgetFolios) {
            shrink(metrics.cachedFolios.get() - budgetFolios);
        }
    }

    void removed() {
        metrics.cachedFolios.decrementAndGet();
    }

    private void lruAdd(Folio f) {
        lruLength.incrementAndGet();
        lru.add(f);
    }

    private Folio lruPoll() {
        Folio f = lru.poll();
        if (f != null) {
            lruLength.decrementAndGet();
        }
        return f;
    }

    /**
     * Reclaims up to {@code target} folios; returns how many were evicted. Like shrink_inactive_list, one call
     * scans a bounded batch (a few times the target, at least SWAP_CLUSTER_MAX) rather than the whole list, so
     * an allocation past the budget costs the same whatever the cache holds.
     */
    public long shrink(long target) {
        long evicted = 0;
        long scan = Math.min(2 * lruLength.get(), Math.max(SCAN_BATCH, 4 * target));
        boolean sawDirty = false;
        while (evicted < target && scan-- > 0) {
            Folio f = lruPoll();
            if (f == null) {
                break;
            }
            if (f.isRemoved()) {
                continue;
            }
            if (f.referenced) {
                f.referenced = false;
                lruAdd(f);
                continue;
            }
            switch (tryEvict(f)) {
                case EVICTED -> evicted++;
                case GONE -> { }
                case DIRTY -> {
                    sawDirty = true;
                    lruAdd(f);
                }
                case KEPT -> lruAdd(f);
            }
        }
        if (evicted < target && sawDirty) {
            wakeFlusher.run();
        }
        return evicted;
    }

    /** Evicts every clean folio it can (echo 1 > /proc/sys/vm/drop_caches). */
    public long dropClean() {
        long evicted = 0;
        long n = lruLength.get();
        for (long i = 0; i < n; i++) {
            Folio f = lruPoll();
            if (f == null) {
                break;
            }
            Outcome o = tryEvict(f);
            if (o == Outcome.EVICTED) {
                evicted++;
            } else if (o != Outcome.GONE) {
                lruAdd(f);
            }
        }
        return evicted;
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
            if (f.isWriteback() || f.isMapped() || evictionVeto.test(f)) {
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
            f.detachState();
            f.mapping.delete(f);
            metrics.cacheEvictions.increment();
            onEvict.accept(f);
            return Outcome.EVICTED;
        } finally {
            f.unlock();
        }
    }
}
