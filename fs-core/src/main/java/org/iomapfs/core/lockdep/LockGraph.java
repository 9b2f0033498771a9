package org.iomapfs.core.lockdep;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;

/**
 * The dependency graph of a runtime lock validator, after the kernel's lockdep
 * (Documentation/locking/lockdep-design.rst): for each thread it keeps the classes held; taking (or waiting
 * for) class B while holding A records the edge A -> B, once per pair, with the stack that first showed it.
 * A new edge that closes a cycle is a possible circular locking dependency, reported with the chain that
 * closes it whether or not any thread is blocked: two threads that each took the edges once, at any time, are
 * enough. Same-class nesting (reentrant read locks, folios in index order) adds no edge. Trylocks add none.
 *
 * <p>Cost when on: per acquisition a scan of the thread's few held classes against a bit mask per class; the
 * graph's monitor and a stack walk only for an edge never seen before. In a JVM started without
 * {@code -Diomapfs.lockdep=true}, nothing: the check is a constant the JIT folds away.
 */
public final class LockGraph {
    static final int MAX_CLASSES = 64;
    private static final int MAX_DEPTH = 64;

    /**
     * Whether this JVM started with {@code -Diomapfs.lockdep=true}: a constant, so that without it the JIT drops
     * every check and a lock costs what it did before lockdep (the benchmarks run without it).
     */
    static final boolean AVAILABLE = Boolean.getBoolean(LockOrder.PROPERTY);

    volatile boolean on;
    private final List<LockClass> classes = new ArrayList<>();
    private final AtomicLongArray after = new AtomicLongArray(MAX_CLASSES);
    private final Edge[][] edges = new Edge[MAX_CLASSES][MAX_CLASSES];
    private final List<String> reports = new CopyOnWriteArrayList<>();
    private final List<Consumer<String>> reporters = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Held> held = ThreadLocal.withInitial(this::register);
    private final Map<Thread, Held> threads = Collections.synchronizedMap(new WeakHashMap<>());

    /** The first time an edge was seen: thread, the classes it held and its stack. */
    private record Edge(String thread, String heldNames, StackTraceElement[] stack) { }

    /** The classes a thread holds, innermost last. Only its own thread changes it. */
    private static final class Held {
        final int[] cls = new int[MAX_DEPTH];
        volatile int depth;
        int overflow;
    }

    public LockGraph(boolean on) {
        setOn(on);
    }

    public boolean isOn() { return on; }

    /** Turns this graph on or off; on needs a JVM started with lockdep ({@link #AVAILABLE}). */
    public void setOn(boolean on) {
        if (on && !AVAILABLE) {
            throw new IllegalStateException("lockdep is available only in a JVM started with -D" + LockOrder.PROPERTY
                    + "=true");
        }
        this.on = on;
    }

    /** Declares a class; the order of declaration means nothing to the validator. */
    public synchronized LockClass newClass(String name) {
        if (classes.size() == MAX_CLASSES) {
            throw new IllegalStateException("more than " + MAX_CLASSES + " lock classes");
        }
        LockClass c = new LockClass(this, classes.size(), name);
        classes.add(c);
        return c;
    }

    /** Adds a place each report goes besides {@link #reports()} (the daemon's log, a directory). */
    public void addReporter(Consumer<String> r) { reporters.add(r); }

    /** Every report so far, oldest first. */
    public List<String> reports() { return List.copyOf(reports); }

    private Held register() {
        Held h = new Held();
        threads.put(Thread.currentThread(), h);
        return h;
    }

    void acquire(LockClass c) {
        depend(held.get(), c, null);
        push(c);
    }

    void push(LockClass c) {
        Held h = held.get();
        if (h.depth == MAX_DEPTH) {
            h.overflow++;
            return;
        }
        h.cls[h.depth] = c.id;
        h.depth = h.depth + 1;
    }

    void release(LockClass c) {
        Held h = held.get();
        for (int i = h.depth - 1; i >= 0; i--) {
            if (h.cls[i] == c.id) {
                System.arraycopy(h.cls, i + 1, h.cls, i, h.depth - i - 1);
                h.depth = h.depth - 1;
                return;
            }
        }
        if (h.overflow > 0) {
            h.overflow--;
            return;
        }
        report("WARNING: bad unlock balance detected!\nthread \"" + Thread.currentThread().getName()
                + "\" releases " + c.name + " which it does not hold\n" + stack(new Throwable().getStackTrace()));
    }

    void waitFor(LockClass c, LockClass nested) {
        depend(held.get(), c, nested);
    }

    private void depend(Held h, LockClass c, LockClass nested) {
        long bit = 1L << c.id;
        for (int i = 0; i < h.depth; i++) {
            int a = h.cls[i];
            if (a != c.id && (nested == null || a != nested.id) && (after.get(a) & bit) == 0) {
                addEdge(h, a, c);
            }
        }
    }

    private synchronized void addEdge(Held h, int a, LockClass b) {
        if ((after.get(a) & (1L << b.id)) != 0) {
            return;
        }
        Edge e = new Edge(Thread.currentThread().getName(), names(h), new Throwable().getStackTrace());
        List<Integer> path = path(b.id, a);
        edges[a][b.id] = e;
        after.set(a, after.get(a) | (1L << b.id));
        if (path != null) {
            report(cycleReport(a, b, e, path));
        }
    }

    /** A path of known edges from {@code from} to {@code to} (class ids, both ends included), or null. */
    private List<Integer> path(int from, int to) {
        int[] prev = new int[MAX_CLASSES];
        java.util.Arrays.fill(prev, -1);
        prev[from] = from;
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        queue.add(from);
        while (!queue.isEmpty()) {
            int x = queue.poll();
            if (x == to) {
                List<Integer> p = new ArrayList<>();
                for (int y = to; y != from; y = prev[y]) {
                    p.add(0, y);
                }
                p.add(0, from);
                return p;
            }
            long next = after.get(x);
            while (next != 0) {
                int y = Long.numberOfTrailingZeros(next);
                next &= next - 1;
                if (prev[y] < 0) {
                    prev[y] = x;
                    queue.add(y);
                }
            }
        }
        return null;
    }

    private String cycleReport(int a, LockClass b, Edge e, List<Integer> path) {
        StringBuilder sb = new StringBuilder();
        sb.append("WARNING: possible circular locking dependency detected\n");
        sb.append("thread \"").append(e.thread).append("\" is trying to acquire (or wait for) ").append(b.name)
                .append("\nwhile holding ").append(e.heldNames).append(":\n").append(stack(e.stack));
        sb.append("\nwhich closes the cycle ").append(b.name);
        for (int i = 1; i < path.size(); i++) {
            sb.append(" -> ").append(classes.get(path.get(i)).name);
        }
        sb.append(" -> ").append(b.name).append("\n\nthe existing dependency chain:\n");
        for (int i = 0; i + 1 < path.size(); i++) {
            int x = path.get(i);
            int y = path.get(i + 1);
            Edge old = edges[x][y];
            sb.append("-> #").append(i).append(" ").append(classes.get(x).name).append(" then ")
                    .append(classes.get(y).name).append(", first in thread \"").append(old.thread)
                    .append("\" holding ").append(old.heldNames).append(":\n").append(stack(old.stack));
        }
        sb.append("\n*** DEADLOCK possible: ").append(classes.get(a).name).append(" is taken before ").append(b.name)
                .append(" here and after it along the chain above\n");
        return sb.toString();
    }

    private String names(Held h) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < h.depth; i++) {
            sb.append(i == 0 ? "" : ", ").append(classes.get(h.cls[i]).name);
        }
        return sb.length() == 0 ? "nothing" : sb.toString();
    }

    private static String stack(StackTraceElement[] st) {
        StringBuilder sb = new StringBuilder();
        int shown = 0;
        for (StackTraceElement f : st) {
            if (isValidatorFrame(f.getClassName())) {
                continue;
            }
            sb.append("    at ").append(f).append('\n');
            if (++shown == 24) {
                sb.append("    ...\n");
                break;
            }
        }
        return sb.toString();
    }

    private static boolean isValidatorFrame(String cls) {
        for (Class<?> c : new Class<?>[] {LockGraph.class, LockClass.class, TrackedRwLock.class}) {
            if (cls.equals(c.getName()) || cls.startsWith(c.getName() + "$")) {
                return true;
            }
        }
        return cls.startsWith("java.lang.Thread") || cls.startsWith("java.util.concurrent.locks.");
    }

    private void report(String r) {
        reports.add(r);
        for (Consumer<String> c : reporters) {
            c.accept(r);
        }
    }

    /** Every dependency seen so far, as {@code {before, after}} pairs of classes. */
    public synchronized List<LockClass[]> dependencies() {
        List<LockClass[]> out = new ArrayList<>();
        for (int a = 0; a < classes.size(); a++) {
            long next = after.get(a);
            while (next != 0) {
                int b = Long.numberOfTrailingZeros(next);
                next &= next - 1;
                out.add(new LockClass[] {classes.get(a), classes.get(b)});
            }
        }
        return out;
    }

    /** The classes the live thread with id {@code threadId} holds now ("nothing" if none or unknown). */
    public String heldBy(long threadId) {
        Thread found = null;
        synchronized (threads) {
            for (Thread t : threads.keySet()) {
                if (t.getId() == threadId) {
                    found = t;
                }
            }
        }
        return found == null ? "nothing" : heldBy(found);
    }

    /** The classes {@code t} holds now, outermost first ("nothing" if none or if it never took one). */
    public String heldBy(Thread t) {
        Held h = threads.get(t);
        if (h == null) {
            return "nothing";
        }
        int d = h.depth;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < d; i++) {
            sb.append(i == 0 ? "" : ", ").append(classes.get(h.cls[i]).name);
        }
        return sb.length() == 0 ? "nothing" : sb.toString();
    }
}
