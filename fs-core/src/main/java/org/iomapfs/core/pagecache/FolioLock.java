package org.iomapfs.core.pagecache;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;

/**
 * The folio lock's word and wait queue (PG_locked and the folio's wait queue): a binary semaphore, not owned and
 * not reentrant, exactly {@code new Semaphore(1)} without the fairness option, but one object rather than the
 * semaphore and its synchronizer, so that reclaim's trylock on the coldest folios reaches the lock word in one hop.
 * The state is the number of free permits, 1 or 0; barging as in Semaphore's nonfair sync. Which lock-order class
 * the lock has is {@link Folio}'s business.
 */
final class FolioLock extends AbstractQueuedSynchronizer {
    FolioLock() {
        setState(1);
    }

    @Override
    protected int tryAcquireShared(int acquires) {
        while (true) {
            int available = getState();
            int remaining = available - acquires;
            if (remaining < 0 || compareAndSetState(available, remaining)) {
                return remaining;
            }
        }
    }

    @Override
    protected boolean tryReleaseShared(int releases) {
        while (true) {
            int current = getState();
            if (compareAndSetState(current, current + releases)) {
                return true;
            }
        }
    }

    void acquireUninterruptibly() { acquireShared(1); }

    boolean tryAcquire() { return tryAcquireShared(1) >= 0; }

    boolean tryAcquire(long timeout, TimeUnit unit) throws InterruptedException {
        return tryAcquireSharedNanos(1, unit.toNanos(timeout));
    }

    void release() { releaseShared(1); }

    int availablePermits() { return getState(); }
}
