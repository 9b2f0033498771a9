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

    private final class Read extends ReadLock {
        Read(ReentrantReadWriteLock lock) { super(lock); }

        @Override
        public void lock() {
            cls.acquire();
            if (Sched.ON && Sched.acquire(cls.name, super::tryLock, () -> !isWriteLocked())) {
                return;
            }
            super.lock();
        }

        @Override
        public void lockInterruptibly() throws InterruptedException { TrackedRwLock.this.lockInterruptibly(super::lockInterruptibly); }

        @Override
        public boolean tryLock() { return tried(super.tryLock()); }

        @Override
        public boolean tryLock(long timeout, TimeUnit unit) throws InterruptedException {
            return tried(super.tryLock(timeout, unit));
        }

        @Override
        public void unlock() {
            super.unlock();
            cls.release();
            if (Sched.ON) {
                Sched.released(cls.name);
            }
        }
    }

    private final class Write extends WriteLock {
        Write(ReentrantReadWriteLock lock) { super(lock); }

        @Override
        public void lock() {
            cls.acquire();
            if (Sched.ON && Sched.acquire(cls.name, super::tryLock, () -> !isWriteLocked() && getReadLockCount() == 0)) {
                return;
            }
            super.lock();
        }

        @Override
        public void lockInterruptibly() throws InterruptedException { TrackedRwLock.this.lockInterruptibly(super::lockInterruptibly); }

        @Override
        public boolean tryLock() { return tried(super.tryLock()); }

        @Override
        public boolean tryLock(long timeout, TimeUnit unit) throws InterruptedException {
            return tried(super.tryLock(timeout, unit));
        }

        @Override
        public void unlock() {
            super.unlock();
            cls.release();
            if (Sched.ON) {
                Sched.released(cls.name);
            }
        }
    }
}
