package org.iomapfs.fuse.watchdog;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * Which FUSE request each request thread is serving, and since when: one slot per thread, made the first time
 * the thread serves a request and reused for every later one, so entering and leaving a request costs a
 * thread-local lookup and two volatile stores, no allocation. {@link HungTaskWatchdog} reads the slots.
 */
public final class RequestSlots {
    /** One request thread's slot. {@code startNanos == 0} means the thread is between requests. */
    public static final class Slot {
        final Thread thread;
        volatile long startNanos;
        volatile Supplier<String> what;

        Slot(Thread thread) { this.thread = thread; }

        /** The request this slot's thread is in has ended. */
        public void exit() {
            startNanos = 0;
        }
    }

    private final List<Slot> slots = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Slot> mine = ThreadLocal.withInitial(() -> {
        Slot s = new Slot(Thread.currentThread());
        slots.add(s);
        return s;
    });

    /** The calling thread starts serving a request; {@code what} names it only if a report needs it. */
    public Slot enter(Supplier<String> what) {
        Slot s = mine.get();
        s.what = what;
        long now = System.nanoTime();
        s.startNanos = now == 0 ? 1 : now;
        return s;
    }

    /** Every slot made so far; slots of threads that ended are dropped. */
    List<Slot> slots() {
        slots.removeIf(s -> !s.thread.isAlive());
        return slots;
    }
}
