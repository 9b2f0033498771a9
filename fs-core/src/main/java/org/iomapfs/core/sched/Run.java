package org.iomapfs.core.sched;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * One controlled execution: its threads run one at a time, handing the turn over at switch points as the
 * strategy decides. Records every decision (for the schedule string and depth-first search) and every event
 * (for the printed steps and the order operations took effect in).
 */
public final class Run {
    /** Thrown in the explorer's threads when a run is abandoned (deadlock, step bound); never caught by the engine. */
    public static final class Abort extends Error {
        Abort() { super("explorer run aborted", null, false, false); }
    }

    /** A decision: who was running ({@code -1}: could not go on), who could run, who was picked. */
    public record Decision(int current, int[] enabled, int chosen) {
        boolean preemption() { return current >= 0 && chosen != current; }
    }

    /** An event in the order the run reached it: thread id, text, and whether it is worth printing as a step. */
    public record Event(int thread, String what, boolean shown) { }

    private final Strategy strategy;
    private final long maxPoints;
    public final List<ExploreThread> threads = new ArrayList<>();
    final List<Decision> decisions = new ArrayList<>();
    final List<Event> events = new ArrayList<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private CountDownLatch exited;
    private volatile boolean aborted;
    private volatile String failure;
    private long points;

    public Run(Strategy strategy, long maxPoints) {
        this.strategy = strategy;
        this.maxPoints = maxPoints;
    }

    public ExploreThread thread(String name, Runnable body) {
        int id = threads.size();
        ExploreThread[] self = new ExploreThread[1];
        ExploreThread t = ExploreThread.take(this, id, name, () -> {
            ExploreThread me = self[0];
            me.turn.acquireUninterruptibly();
            try {
                if (!aborted) {
                    body.run();
                }
            } catch (Abort a) {
                exited.countDown();
                return;
            } catch (Throwable e) {
                fail("thread " + me.getName() + " threw " + e);
                exited.countDown();
                return;
            }
            try {
                me.done = true;
                switchFrom(me);
            } catch (Abort a) {
                // the run was abandoned while this thread finished
            } finally {
                exited.countDown();
            }
        });
        self[0] = t;
        threads.add(t);
        return t;
    }

    /** Starts every thread and runs to the end; returns null or the failure (deadlock, step bound, hang). */
    public String execute(long timeoutMs) throws InterruptedException {
        strategy.startRun();
        exited = new CountDownLatch(threads.size());
        for (ExploreThread t : threads) {
            t.begin();
        }
        int[] all = new int[threads.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        int first = all.length == 1 ? 0 : strategy.pick(0, -1, all);
        if (all.length > 1) {
            decisions.add(new Decision(-1, all, first));
        }
        threads.get(first).turn.release();
        if (!finished.await(timeoutMs, TimeUnit.MILLISECONDS)) {
            StringBuilder sb = new StringBuilder("hang: a thread blocked outside the explorer's control");
            for (ExploreThread t : threads) {
                if (!t.done) {
                    sb.append("\n  ").append(t.getName()).append(" in ").append(t.op).append(" at ");
                    StackTraceElement[] st = t.getStackTrace();
                    for (int i = 0; i < Math.min(8, st.length); i++) {
                        sb.append("\n      ").append(st[i]);
                    }
                }
            }
            fail(sb.toString());
        }
        exited.await(2000, TimeUnit.MILLISECONDS);
        return failure;
    }

    public List<Decision> decisions() { return decisions; }

    boolean aborted() { return aborted; }

    public List<Event> events() { return events; }

    public int preemptions() {
        int n = 0;
        for (Decision d : decisions) {
            if (d.preemption()) {
                n++;
            }
        }
        return n;
    }

    /** The event count so far: operations note it when they start and end (their interval). */
    public long clock() { return events.size(); }

    public void note(ExploreThread t, String what, boolean shown) {
        events.add(new Event(t.id, what, shown));
    }

    void point(ExploreThread t, String what) {
        if (aborted) {
            throw new Abort();
        }
        note(t, what, false);
        switchFrom(t);
    }

    /**
     * A release: a switch point only while another thread is blocked (it may be waiting for this lock). With
     * nobody blocked, switching here or at the releasing thread's next switch point differs only by what the
     * thread does without a lock in between; the engine's known racy windows have hook points of their own.
     * A reduction, said so in docs/explore.md: coverage is "every schedule of these switch points".
     */
    void releasePoint(ExploreThread t, String what) {
        if (aborted) {
            throw new Abort();
        }
        for (ExploreThread x : threads) {
            if (x != t && !x.done && x.blockedUntil != null) {
                note(t, what, false);
                switchFrom(t);
                return;
            }
        }
    }

    public void shownPoint(ExploreThread t, String what) {
        if (aborted) {
            throw new Abort();
        }
        note(t, what, true);
        switchFrom(t);
    }

    void block(ExploreThread t, String what, BooleanSupplier until) {
        if (aborted) {
            throw new Abort();
        }
        t.blockedOn = what;
        t.blockedUntil = until;
        try {
            switchFrom(t);
        } finally {
            t.blockedUntil = null;
            t.blockedOn = null;
        }
    }

    private void fail(String why) {
        if (failure == null) {
            failure = why;
        }
        aborted = true;
        for (ExploreThread t : threads) {
            t.turn.release();
        }
        finished.countDown();
    }

    private void switchFrom(ExploreThread t) {
        if (++points > maxPoints) {
            fail("step bound: " + maxPoints + " switch points without finishing (livelock?)");
            throw new Abort();
        }
        int n = 0;
        int[] en = new int[threads.size()];
        for (ExploreThread x : threads) {
            if (x.enabled()) {
                en[n++] = x.id;
            }
        }
        if (n == 0) {
            boolean all = true;
            StringBuilder sb = new StringBuilder("deadlock:");
            for (ExploreThread x : threads) {
                if (!x.done) {
                    all = false;
                    sb.append(' ').append(x.getName()).append(" blocked on ").append(x.blockedOn).append(';');
                }
            }
            if (all) {
                finished.countDown();
                return;
            }
            fail(sb.substring(0, sb.length() - 1));
            throw new Abort();
        }
        if (n < en.length) {
            en = java.util.Arrays.copyOf(en, n);
        }
        int cur = t.enabled() ? t.id : -1;
        int next;
        if (n == 1) {
            next = en[0];
        } else {
            next = strategy.pick(decisions.size(), cur, en);
            decisions.add(new Decision(cur, en, next));
        }
        if (next == t.id) {
            return;
        }
        threads.get(next).turn.release();
        if (!t.done) {
            t.turn.acquireUninterruptibly();
            if (aborted) {
                throw new Abort();
            }
        }
    }
}
