package org.iomapfs.core.lockdep;

import org.iomapfs.core.sched.Sched;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link ReentrantReadWriteLock} whose both sides belong to one lock class. Shared and exclusive are not told
 * apart: Java's non-fair rwlock makes a new reader wait behind a queued writer, so a read side taken in the
 * wrong order deadlocks as surely as a write side (the kernel's rwsem behaves the same; lockdep treats its
 * read side as non-recursive).
 */
public class TrackedRwLock extends ReentrantReadWriteLock {
    private final LockClass cls;
    private final ReadLock read;
    private final WriteLock write;

    public TrackedRwLock(LockClass cls) {
        this.cls = cls;
        this.read = new Read(this);
        this.write = new Write(this);
    }

    public LockClass lockClass() { return cls; }

    @Override
    public ReadLock readLock() { return read; }

    @Override
    public WriteLock writeLock() { return write; }

    /** A successful trylock holds the class from now on; a failed one never waited, so it records nothing. */
    private boolean tried(boolean acquired) {
        if (acquired) {
            cls.acquiredTry();
        }
        return acquired;
    }

    /** Records the acquisition before blocking (as lock_acquire does), so a deadlock is reported, not just had. */
    private void lockInterruptibly(Interruptible side) throws InterruptedException {
        cls.acquire();
        try {
            side.lock();
        } catch (InterruptedException e) {
            cls.release();
            throw e;
        }
    }

    @FunctionalInterface
    private interface Interruptible {
        void lock() throws InterruptedException;
    }

    /** After either side's unlock: the class is no longer held, and the explorer may switch threads here. */
    private void released() {
        cls.release();
        if (Sched.ON) {
            Sched.released(cls.name);
        }
    }

    /*
     * The two sides differ only in their base class and in when the explorer sees them free. The short overrides
     * are one line each, so the class's rules (record before blocking, a trylock records only success, release
     * after unlock) are written once above, not twice below.
     */
    private final class Read extends ReadLock {
        Read(ReentrantReadWriteLock lock) { super(lock); }

        @Override
        public void lock() {
            cls.acquire();
            if (!Sched.ON || !Sched.acquire(cls.name, super::tryLock, () -> !isWriteLocked())) {
                super.lock();
            }
        }

        @Override public void lockInterruptibly() throws InterruptedException { TrackedRwLock.this.lockInterruptibly(super::lockInterruptibly); }
        @Override public boolean tryLock() { return tried(super.tryLock()); }
        @Override public boolean tryLock(long t, TimeUnit u) throws InterruptedException { return tried(super.tryLock(t, u)); }
        @Override public void unlock() { super.unlock(); released(); }
    }

    private final class Write extends WriteLock {
        Write(ReentrantReadWriteLock lock) { super(lock); }

        @Override
        public void lock() {
            cls.acquire();
            if (!Sched.ON || !Sched.acquire(cls.name, super::tryLock, () -> !isWriteLocked() && getReadLockCount() == 0)) {
                super.lock();
            }
        }

        @Override public void lockInterruptibly() throws InterruptedException { TrackedRwLock.this.lockInterruptibly(super::lockInterruptibly); }
        @Override public boolean tryLock() { return tried(super.tryLock()); }
        @Override public boolean tryLock(long t, TimeUnit u) throws InterruptedException { return tried(super.tryLock(t, u)); }
        @Override public void unlock() { super.unlock(); released(); }
    }
}
