package org.iomapfs.tests.explore;

import org.iomapfs.core.sched.Run;
import org.iomapfs.core.sched.Sched;
import org.iomapfs.core.explore.Schedules;
import org.junit.jupiter.api.Test;

import java.util.concurrent.Semaphore;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The scheduler on its own: two threads taking two locks in opposite orders (ABBA). The default schedule runs
 * them one after the other and passes; depth-first search with one preemption finds the schedule where each holds
 * one lock and waits for the other, reported as a deadlock (all threads blocked) instead of hanging.
 */
class ExploreSchedulerTest {
    static String abba(Schedules.Dfs dfs) throws InterruptedException {
        Semaphore a = new Semaphore(1);
        Semaphore b = new Semaphore(1);
        Run run = new Run(dfs, 10_000);
        run.thread("ab", () -> {
            take(a, "A");
            take(b, "B");
            b.release();
            a.release();
        });
        run.thread("ba", () -> {
            take(b, "B");
            take(a, "A");
            a.release();
            b.release();
        });
        return run.execute(10_000);
    }

    static void take(Semaphore s, String name) {
        assertTrue(Sched.acquire(name, s::tryAcquire, () -> s.availablePermits() > 0), "an explorer thread");
    }

    @Test
    void depthFirstSearchFindsTheAbbaDeadlock() throws Exception {
        assertNull(abba(new Schedules.Dfs(0)), "the default schedule runs the threads one after the other");
        Schedules.Dfs dfs = new Schedules.Dfs(1);
        String failure = null;
        int n = 0;
        do {
            n++;
            failure = abba(dfs);
        } while (failure == null && dfs.next());
        assertNotNull(failure, "a schedule with one preemption deadlocks");
        assertTrue(failure.startsWith("deadlock:") && failure.contains("ab blocked on B") && failure.contains("ba blocked on A"),
                failure);
        assertTrue(n <= 4, "found within the first schedules: " + n);
    }
}
