package org.iomapfs.core.sched;

import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.function.BooleanSupplier;

/**
 * A thread the explorer runs: it moves only when the explorer hands it the turn. Threads are pooled and serve
 * one run after another (starting a thread costs more than a short run of the engine).
 */
public final class ExploreThread extends Thread {
    private static final ConcurrentLinkedDeque<ExploreThread> IDLE = new ConcurrentLinkedDeque<>();
    private static int made;

    public volatile Run run;
    volatile int id;
    final Semaphore turn = new Semaphore(0);
    private final Semaphore job = new Semaphore(0);
    private volatile Runnable body;
    /** Non-null while blocked: the thread can go on once this holds. */
    volatile BooleanSupplier blockedUntil;
    volatile String blockedOn;
    public volatile boolean done;
    /** The operation the thread is in, for a hang report. */
    public volatile String op = "starts";
    /** A scenario write's short copy-in: the file offset where its copy stops once (-1: none). */
    public long shortAt = -1;
    /** A scenario fsync's injected EIO: the next writeback submission in this thread fails, once. */
    public boolean wbEio;
    /** The thread's shared mapping of the scenario's file (a MappedRegion), made by its first store. */
    public Object mapping;

    private ExploreThread(int n) {
        super("explore-" + n);
        setDaemon(true);
    }

    /** A pooled thread given to {@code run} as thread {@code id}; {@code body} runs once it is started. */
    static synchronized ExploreThread take(Run run, int id, String name, Runnable body) {
        ExploreThread t = IDLE.pollFirst();
        if (t == null) {
            t = new ExploreThread(made++);
            t.start();
        }
        t.run = run;
        t.id = id;
        t.body = body;
        t.done = false;
        t.blockedUntil = null;
        t.blockedOn = null;
        t.shortAt = -1;
        t.wbEio = false;
        t.mapping = null;
        t.op = "starts";
        t.turn.drainPermits();
        t.setName(name);
        return t;
    }

    void begin() { job.release(); }

    @Override
    public void run() {
        while (true) {
            job.acquireUninterruptibly();
            Run was = run;
            try {
                body.run();
            } finally {
                body = null;
                run = null;
            }
            if (was.aborted()) {
                // abandoned mid-operation: its lockdep state may still hold classes, so it serves no other run
                return;
            }
            IDLE.addFirst(this);
        }
    }

    boolean enabled() {
        if (done) {
            return false;
        }
        BooleanSupplier b = blockedUntil;
        return b == null || b.getAsBoolean();
    }
}
