package org.iomapfs.core.sched;

import java.util.function.BooleanSupplier;

/**
 * The engine's switch points for the schedule explorer ({@code iomapfs explore}). The engine calls these at every
 * acquisition and release of its own locks, every wait (folio lock, folio writeback) and every
 * {@link org.iomapfs.core.hooks.HookPoint}. They act only in a thread the explorer runs ({@link ExploreThread}):
 * there the explorer decides who runs next, and a blocking acquisition becomes try-acquire, "blocked on X" and a
 * switch, so the explorer knows who is runnable and sees a deadlock (everyone blocked) instead of having it.
 *
 * <p>In a JVM started without {@code -Diomapfs.explore=true} every call site is behind {@link #ON}, a constant the
 * JIT folds away: the engine runs, and costs, exactly what it did before the explorer existed.
 */
public final class Sched {
    /** System property that compiles the switch points in (the explorer's CLI sets it before the engine loads). */
    public static final String PROPERTY = "iomapfs.explore";

    /** Whether this JVM has the switch points at all; a constant, so without it every call site is dead code. */
    public static final boolean ON = Boolean.getBoolean(PROPERTY);

    /** The thread that is opening an engine for the explorer (its background threads are not started). */
    public static volatile Thread opening;

    /** Names a hook point as a step ("writeback maps block 9"); the explorer sets it, so this package needs no engine type. */
    public interface Describer {
        String describe(Object kind, long pos, int blockSize);
    }

    /** How hook points print as steps: set by the explorer before a run. */
    public static volatile Describer describer = (kind, pos, blockSize) -> kind + " at " + pos;

    private Sched() { }

    /** Whether the current thread runs under the explorer (call only behind {@link #ON}). */
    public static boolean controlled() {
        Thread t = Thread.currentThread();
        return t instanceof ExploreThread || t == opening;
    }

    /** A switch point: the explorer may run another thread here. */
    public static void point(String what) {
        if (Thread.currentThread() instanceof ExploreThread t) {
            t.run.point(t, what);
        }
    }

    /** A switch point worth printing as a step: a hook point at file position {@code pos}. */
    public static void point(Object kind, long pos, int blockSize) {
        if (Thread.currentThread() instanceof ExploreThread t) {
            t.run.shownPoint(t, describer.describe(kind, pos, blockSize));
        }
    }

    /**
     * Acquires a lock the explorer's way: a switch point, then {@code tryAcquire} until it succeeds, blocked in
     * between until {@code free} says the lock looks free. Returns false when the caller is not an explorer
     * thread (it must then block as it always did).
     */
    public static boolean acquire(String what, BooleanSupplier tryAcquire, BooleanSupplier free) {
        if (!(Thread.currentThread() instanceof ExploreThread t)) {
            return false;
        }
        t.run.point(t, "takes " + what);
        while (!tryAcquire.getAsBoolean()) {
            t.run.block(t, what, free);
        }
        return true;
    }

    /** Waits until {@code done} holds, blocked on {@code what}; false when the caller is not an explorer thread. */
    public static boolean await(String what, BooleanSupplier done) {
        if (!(Thread.currentThread() instanceof ExploreThread t)) {
            return false;
        }
        while (!done.getAsBoolean()) {
            t.run.block(t, what, done);
        }
        return true;
    }

    /** A lock was released: a switch point after it, so a thread waiting for it may run at once. */
    public static void released(String what) {
        if (Thread.currentThread() instanceof ExploreThread t) {
            t.run.releasePoint(t, "releases " + what);
        }
    }
}
