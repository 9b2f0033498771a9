package org.iomapfs.fuse.watchdog;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checker's rules, driven pass by pass with a synthetic clock ({@link HungTaskWatchdog#check}): a request
 * thread that makes no progress for the timeout is hung and reported once with every thread's stack; an engine
 * thread waiting for work in its own loop is idle, one waiting inside engine work is hung; progress ends the
 * episode. The threads really block (latches), so "no progress" is what ThreadMXBean reports.
 */
class HungTaskWatchdogTest {
    private static final long S = 1_000_000_000L;
    private final List<Thread> threads = new ArrayList<>();
    private final CountDownLatch release = new CountDownLatch(1);
    private final LinkedBlockingQueue<Object> work = new LinkedBlockingQueue<>();
    private final List<String> log = new ArrayList<>();
    private final List<HungTaskWatchdog.Status> published = new ArrayList<>();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @AfterEach
    void releaseAll() throws InterruptedException {
        release.countDown();
        work.add(new Object());
        for (Thread t : threads) {
            t.join(5_000);
        }
    }

    private HungTaskWatchdog watchdog(RequestSlots slots) {
        return new HungTaskWatchdog(2, slots, Set.of("test-engine-idle", "test-engine-busy"), registry, log::add,
            published::add);
    }

    private Thread start(String name, Runnable r, CountDownLatch started) throws InterruptedException {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
        assertTrue(started.await(10, TimeUnit.SECONDS));
        // wait until it is really parked, so its counters no longer move
        while (t.getState() != Thread.State.WAITING) {
            Thread.onSpinWait();
        }
        return t;
    }

    private void awaitRelease() {
        try {
            release.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** An engine thread inside engine work: more than one frame of its own before the wait. */
    private void engineWork(CountDownLatch started) {
        started.countDown();
        awaitRelease();
    }

    @Test
    void aStuckRequestIsReportedOnceWithEveryStackAndCountedUntilItProgresses() throws Exception {
        RequestSlots slots = new RequestSlots();
        HungTaskWatchdog w = watchdog(slots);
        CountDownLatch started = new CountDownLatch(1);
        start("fuse-worker-test", () -> {
            RequestSlots.Slot s = slots.enter(() -> "read");
            started.countDown();
            awaitRelease();
            s.exit();
        }, started);
        long t0 = System.nanoTime();
        w.check(t0);
        w.check(t0 + S);
        assertFalse(w.status().hung(), "1 s without progress is under the 2 s timeout");
        w.check(t0 + 3 * S);
        assertTrue(w.status().hung());
        assertEquals(1, w.status().blocked());
        assertTrue(w.status().summary().contains("fuse-worker-test") && w.status().summary().contains("'read'"),
            w.status().summary());
        assertEquals(1.0, registry.get("iomapfs.hung.tasks").counter().count());
        assertEquals(1, log.size());
        String report = log.get(0);
        assertTrue(report.contains("INFO: task fuse-worker-test blocked for more than 2 seconds in request 'read'"), report);
        assertTrue(report.contains("Showing every thread's stack"), report);
        assertTrue(report.contains("\"fuse-worker-test\""), report);
        assertTrue(report.contains("\"main\"") || report.contains(Thread.currentThread().getName()), "every thread: " + report);
        assertTrue(report.contains("CountDownLatch.await"), "the stuck stack: " + report);

        w.check(t0 + 5 * S);
        w.check(t0 + 7 * S);
        assertEquals(1, log.size(), "once per hang episode");
        assertEquals(1.0, registry.get("iomapfs.hung.tasks").counter().count(), "each task counted once");
        assertEquals(1.0, registry.get("iomapfs.blocked.tasks").gauge().value());

        release.countDown();
        threads.get(0).join(5_000);
        w.check(t0 + 9 * S);
        assertFalse(w.status().hung());
        assertEquals(0.0, registry.get("iomapfs.blocked.tasks").gauge().value());
        assertTrue(log.get(log.size() - 1).contains("no task is blocked any more"), log.toString());
        assertEquals(2, published.size(), "published when it became hung and when it ended: " + published);
    }

    @Test
    void anEngineThreadWaitingForWorkIsIdleButOneStuckInsideWorkIsHung() throws Exception {
        HungTaskWatchdog w = watchdog(new RequestSlots());
        CountDownLatch idle = new CountDownLatch(1);
        start("test-engine-idle", () -> {
            idle.countDown();
            try {
                work.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, idle);
        CountDownLatch busy = new CountDownLatch(1);
        start("test-engine-busy", () -> engineWork(busy), busy);
        long t0 = System.nanoTime();
        w.check(t0);
        w.check(t0 + 3 * S);
        assertTrue(w.status().hung());
        assertEquals(1, w.status().blocked(), w.status().summary());
        assertTrue(w.status().summary().contains("test-engine-busy"), w.status().summary());
        assertFalse(w.status().summary().contains("test-engine-idle"), w.status().summary());
    }

    @Test
    void aRequestThreadBetweenRequestsIsNotWatched() throws Exception {
        RequestSlots slots = new RequestSlots();
        HungTaskWatchdog w = watchdog(slots);
        CountDownLatch started = new CountDownLatch(1);
        start("fuse-worker-idle", () -> {
            slots.enter(() -> "getattr /").exit();
            started.countDown();
            awaitRelease();
        }, started);
        long t0 = System.nanoTime();
        w.check(t0);
        w.check(t0 + 10 * S);
        assertFalse(w.status().hung(), w.status().summary());
        assertTrue(log.isEmpty(), log.toString());
    }
}
