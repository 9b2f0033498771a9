package org.iomapfs.fuse.watchdog;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.iomapfs.core.lockdep.LockOrder;

import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.MonitorInfo;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The daemon's hung-task detector, after the kernel's khungtaskd (kernel/hung_task.c): a checker thread wakes
 * every few seconds and looks at every thread that should be making progress (each FUSE request thread while it
 * serves a request, see {@link RequestSlots}, and the engine's writeback threads while they are inside engine
 * work rather than idle in their own loop). Like {@code check_hung_task}, which compares a task's context-switch
 * count ({@code nvcsw + nivcsw}) with the one it saw last and reports the task once
 * {@code last_switch_time + hung_task_timeout_secs} has passed, a thread counts as blocked while its CPU time and
 * its JVM wait and block counts stay unchanged (it was never woken, never ran), and as hung once that lasted the
 * timeout. The first hung task of an episode logs every thread's stack with the locks each holds (the kernel's
 * {@code sched_show_task} plus {@code debug_show_all_locks}); each hung task is counted once in
 * {@code iomapfs_hung_tasks_total} (the kernel's {@code hung_task_detect_count}); the episode ends when no task
 * is hung any more.
 */
public final class HungTaskWatchdog implements AutoCloseable {
    /** The engine's long-lived threads (fs-core Writeback), watched whenever they are not idle in their loop. */
    public static final Set<String> ENGINE_THREADS = Set.of("iomapfs-flusher", "iomapfs-ioend");
    private static final String ENGINE_PACKAGE = "org.iomapfs.";
    private static final int SUMMARY_TASKS = 3;

    /** What the daemon publishes: whether some task is hung now, how many, how many ever, and which. */
    public record Status(boolean hung, int blocked, long total, String summary) {
        static final Status IDLE = new Status(false, 0, 0, "");
    }

    /** The checker's view of one watched thread (only the checker thread touches these). */
    private static final class Track {
        long requestStart;
        long cpu = Long.MIN_VALUE;
        long blockedCount = -1;
        long waitedCount = -1;
        long stuckSince;
        boolean reported;
    }

    /** A thread found hung in this pass. */
    private record Hung(long id, String name, String what, long stuckNanos) {
        /** Stable while the task stays hung, so the published status changes only when the set of tasks does. */
        String line(long timeoutSeconds) {
            return "task " + name + " blocked for more than " + timeoutSeconds + " seconds" + what;
        }
    }

    private final long timeoutSeconds;
    private final long timeoutNanos;
    private final long intervalNanos;
    private final RequestSlots requests;
    private final Set<String> engineThreads;
    private final Consumer<String> log;
    private final Consumer<Status> onChange;
    private final ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    private final Counter hungTasks;
    private final AtomicInteger blockedNow = new AtomicInteger();
    private final Map<Long, Track> tracks = new HashMap<>();
    private final CountDownLatch stop = new CountDownLatch(1);
    private volatile Status status = Status.IDLE;
    private boolean episode;
    private Thread checker;

    /**
     * @param timeoutSeconds how long a thread may go without progress (0 disables the checker; the meters stay)
     * @param log            where reports go (the daemon's log)
     * @param onChange       told whenever {@link #status()} changes (the daemon publishes it for the CLI)
     */
    public HungTaskWatchdog(long timeoutSeconds, RequestSlots requests, Set<String> engineThreads,
                            MeterRegistry registry, Consumer<String> log, Consumer<Status> onChange) {
        if (timeoutSeconds < 0) {
            throw new IllegalArgumentException("hung-task timeout must be 0 (off) or positive, not " + timeoutSeconds);
        }
        this.timeoutSeconds = timeoutSeconds;
        this.timeoutNanos = TimeUnit.SECONDS.toNanos(timeoutSeconds);
        // khungtaskd checks once per timeout; twice per timeout (at most every 5 s) reports sooner after it
        this.intervalNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(250), Math.min(timeoutNanos / 2, TimeUnit.SECONDS.toNanos(5)));
        this.requests = requests;
        this.engineThreads = engineThreads;
        this.log = log;
        this.onChange = onChange;
        this.hungTasks = Counter.builder("iomapfs.hung.tasks")
            .description("request and engine threads found blocked for longer than the hung-task timeout, each counted once")
            .register(registry);
        Gauge.builder("iomapfs.blocked.tasks", blockedNow, AtomicInteger::get)
            .description("threads blocked for longer than the hung-task timeout right now (0: not hung)")
            .register(registry);
        if (mx.isThreadCpuTimeSupported() && !mx.isThreadCpuTimeEnabled()) {
            mx.setThreadCpuTimeEnabled(true);
        }
    }

    public long timeoutSeconds() { return timeoutSeconds; }

    public Status status() { return status; }

    /** Starts the checker thread, unless the timeout is 0. */
    public synchronized void start() {
        if (timeoutNanos == 0 || checker != null) {
            return;
        }
        checker = new Thread(this::run, "iomapfs-hungtaskd");
        checker.setDaemon(true);
        checker.start();
    }

    private void run() {
        try {
            while (!stop.await(intervalNanos, TimeUnit.NANOSECONDS)) {
                try {
                    check(System.nanoTime());
                } catch (RuntimeException e) {
                    log.accept("hung-task watchdog: check failed: " + e);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One pass of the checker (check_hung_uninterruptible_tasks). */
    void check(long now) {
        Map<Long, String> watched = new HashMap<>(); // thread id -> what it is doing, for the report
        Map<Long, Long> requestStarts = new HashMap<>();
        for (RequestSlots.Slot s : requests.slots()) {
            long start = s.startNanos;
            if (start != 0) {
                long id = s.thread.getId();
                requestStarts.put(id, start);
                watched.put(id, describe(s.what));
            }
        }
        long[] ids = mx.getAllThreadIds();
        ThreadInfo[] infos = mx.getThreadInfo(ids, 0);
        Map<Long, ThreadInfo> byId = new HashMap<>();
        for (ThreadInfo ti : infos) {
            if (ti == null) {
                continue;
            }
            byId.put(ti.getThreadId(), ti);
            if (engineThreads.contains(ti.getThreadName())) {
                watched.putIfAbsent(ti.getThreadId(), "");
            }
        }
        tracks.keySet().retainAll(watched.keySet());
        List<Hung> hung = new ArrayList<>();
        List<Hung> fresh = new ArrayList<>();
        for (Map.Entry<Long, String> w : watched.entrySet()) {
            long id = w.getKey();
            ThreadInfo ti = byId.get(id);
            if (ti == null) {
                continue; // ended since the slot was read
            }
            Track t = tracks.computeIfAbsent(id, k -> new Track());
            Long start = requestStarts.get(id);
            if (start != null && start != t.requestStart) {
                t.requestStart = start;
                t.stuckSince = start;
                t.reported = false;
            }
            long cpu = mx.getThreadCpuTime(id);
            if (cpu != t.cpu || ti.getBlockedCount() != t.blockedCount || ti.getWaitedCount() != t.waitedCount) {
                // it ran or was woken since the last pass: the kernel's "switch_count != last_switch_count"
                t.cpu = cpu;
                t.blockedCount = ti.getBlockedCount();
                t.waitedCount = ti.getWaitedCount();
                t.stuckSince = Math.max(now, start != null ? start : 0);
                t.reported = false;
                continue;
            }
            if (t.stuckSince == 0) {
                t.stuckSince = now;
            }
            if (now - t.stuckSince < timeoutNanos) {
                continue;
            }
            if (start == null && idleInOwnLoop(id)) {
                t.stuckSince = now; // an engine thread waiting for work is idle, not hung (the kernel's TASK_IDLE)
                continue;
            }
            Hung h = new Hung(id, ti.getThreadName(), w.getValue(), now - t.stuckSince);
            hung.add(h);
            if (!t.reported) {
                t.reported = true;
                fresh.add(h);
            }
        }
        report(hung, fresh);
    }

    private static String describe(Supplier<String> what) {
        if (what == null) {
            return " in a request";
        }
        try {
            return " in request '" + what.get() + "'";
        } catch (RuntimeException e) {
            return " in a request";
        }
    }

    /** An engine thread whose only engine frame is its own loop method is waiting for work. */
    private boolean idleInOwnLoop(long id) {
        ThreadInfo ti = mx.getThreadInfo(id, 64);
        if (ti == null) {
            return true;
        }
        int engineFrames = 0;
        for (StackTraceElement e : ti.getStackTrace()) {
            // a thread started with a method reference shows the lambda's frame too
            if (e.getClassName().startsWith(ENGINE_PACKAGE) && !e.getClassName().contains("$$Lambda")) {
                engineFrames++;
            }
        }
        return engineFrames <= 1;
    }

    private void report(List<Hung> hung, List<Hung> fresh) {
        if (!fresh.isEmpty()) {
            hungTasks.increment(fresh.size());
            StringBuilder b = new StringBuilder();
            for (Hung h : fresh) {
                b.append("INFO: ").append(h.line(timeoutSeconds)).append(" (no progress for ")
                    .append(String.format("%.1f", h.stuckNanos() / 1e9)).append(" s)\n");
            }
            if (!episode) {
                b.append("Showing every thread's stack and the locks it holds:\n");
                Set<Long> hungIds = new HashSet<>();
                hung.forEach(h -> hungIds.add(h.id()));
                for (ThreadInfo ti : mx.dumpAllThreads(mx.isObjectMonitorUsageSupported(), mx.isSynchronizerUsageSupported())) {
                    b.append(formatThread(ti, hungIds.contains(ti.getThreadId()))).append('\n');
                }
            } else {
                // the whole dump was logged when this episode began; a task that joined it shows its own stack
                for (Hung h : fresh) {
                    ThreadInfo ti = mx.getThreadInfo(new long[] {h.id()}, mx.isObjectMonitorUsageSupported(),
                        mx.isSynchronizerUsageSupported())[0];
                    if (ti != null) {
                        b.append(formatThread(ti, true)).append('\n');
                    }
                }
            }
            episode = true;
            log.accept("hung-task watchdog: " + b.toString().stripTrailing());
        } else if (hung.isEmpty() && episode) {
            episode = false;
            log.accept("hung-task watchdog: no task is blocked any more");
        }
        blockedNow.set(hung.size());
        StringBuilder summary = new StringBuilder();
        for (int i = 0; i < Math.min(SUMMARY_TASKS, hung.size()); i++) {
            summary.append(i == 0 ? "" : "; ").append(hung.get(i).line(timeoutSeconds));
        }
        if (hung.size() > SUMMARY_TASKS) {
            summary.append("; and ").append(hung.size() - SUMMARY_TASKS).append(" more");
        }
        Status next = new Status(!hung.isEmpty(), hung.size(), (long) hungTasks.count(), summary.toString());
        if (!next.equals(status)) {
            status = next;
            onChange.accept(next);
        }
    }

    /** One thread as jstack shows it, every frame, then the locks it holds. */
    static String formatThread(ThreadInfo ti, boolean hung) {
        StringBuilder b = new StringBuilder();
        b.append('"').append(ti.getThreadName()).append("\" #").append(ti.getThreadId())
            .append(ti.isDaemon() ? " daemon " : " ").append(ti.getThreadState());
        if (ti.getLockName() != null) {
            b.append(" on ").append(ti.getLockName());
            if (ti.getLockOwnerName() != null) {
                b.append(" owned by \"").append(ti.getLockOwnerName()).append("\" #").append(ti.getLockOwnerId());
            }
        }
        if (hung) {
            b.append("  <-- HUNG");
        }
        b.append('\n');
        StackTraceElement[] stack = ti.getStackTrace();
        MonitorInfo[] monitors = ti.getLockedMonitors();
        for (int i = 0; i < stack.length; i++) {
            b.append("\tat ").append(stack[i]).append('\n');
            if (i == 0 && ti.getLockInfo() != null) {
                b.append("\t- ").append(ti.getThreadState() == Thread.State.BLOCKED ? "blocked on " : "waiting on ")
                    .append(ti.getLockInfo()).append('\n');
            }
            for (MonitorInfo m : monitors) {
                if (m.getLockedStackDepth() == i) {
                    b.append("\t- locked ").append(m).append('\n');
                }
            }
        }
        List<String> held = heldLocks(ti);
        b.append("\theld locks (").append(held.size()).append(held.isEmpty() ? ")\n" : "):\n");
        for (String l : held) {
            b.append("\t  ").append(l).append('\n');
        }
        return b.toString();
    }

    /**
     * The locks a thread holds, one line each: Java monitors (with the frame that took them) and ownable
     * synchronizers (ReentrantLock, ReentrantReadWriteLock's write side; a read side has no owner to report),
     * and, with lockdep on, the engine lock classes it holds, read sides and waits included.
     */
    public static List<String> heldLocks(ThreadInfo ti) {
        List<String> out = new ArrayList<>();
        if (LockOrder.LOCKDEP.isOn()) {
            out.add("lockdep: " + LockOrder.LOCKDEP.heldBy(ti.getThreadId()));
        }
        for (MonitorInfo m : ti.getLockedMonitors()) {
            StackTraceElement at = m.getLockedStackFrame();
            out.add("monitor " + m + (at != null ? " taken in " + at : ""));
        }
        for (LockInfo l : ti.getLockedSynchronizers()) {
            out.add("synchronizer " + l);
        }
        return out;
    }

    @Override
    public void close() {
        stop.countDown();
        Thread t;
        synchronized (this) {
            t = checker;
        }
        if (t != null) {
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
