package org.iomapfs.core.explore;

import org.iomapfs.core.sched.ExploreThread;
import org.iomapfs.core.sched.Run;
import org.iomapfs.core.sched.Sched;
import org.iomapfs.core.sched.Strategy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.mm.MappedRegion;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageFaultDeadlock;
import org.iomapfs.core.store.Mkfs;
import org.iomapfs.core.trace.Trace;
import org.iomapfs.core.writeback.Writeback;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a scenario once under a strategy on a fresh engine and checks the invariant: after the threads finish, an
 * fsync and a cache drop, the file's bytes equal the shadow model of the scenario's operations applied in an
 * order in which they could have taken effect (each operation atomically at some point between its start and
 * its return, so an operation that returned before another started comes first: a linearization); no
 * kernel-style WARN fired; no deadlock; no lockdep report.
 */
public final class Execution {
    static {
        Sched.describer = Steps::describe;
    }

    /** The outcome of one run. */
    public record Result(String failure, String kind, List<Run.Decision> decisions, List<Run.Event> events,
                         List<String> threadNames, int preemptions, long fileHash, String bugLines,
                         Map<String, Long> fired) {
        public boolean failed() { return failure != null; }
    }

    /** What a thread's shared mapping of the file covers. */
    static final int MAP_BYTES = 16 * Folio.PAGE_SIZE;

    /** The shared template image (made once per directory) that each run copies. */
    private final Path dir;
    private int serial;

    public Execution(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Path template(int blockSize) {
        Path t = dir.resolve("template-" + blockSize + ".img");
        if (!Files.exists(t)) {
            Mkfs.format(t, 1L << 20, blockSize, true);
        }
        return t;
    }

    /** An operation's interval in the run's event clock and what it returned. */
    static final class Done {
        final Scenario.Op op;
        long start;
        long end = Long.MAX_VALUE;
        long ret;
        boolean failed;
        boolean maybeLost;
        String deadlock;

        Done(Scenario.Op op) { this.op = op; }
    }

    public Result run(Scenario sc, Map<Bug, Boolean> bugs, Strategy strategy) throws InterruptedException {
        Path img = dir.resolve("run" + (serial++ % 2) + ".img");
        try {
            Path template = template(sc.blockSize());
            Files.copy(template, img, StandardCopyOption.REPLACE_EXISTING);
            Files.copy(dir.resolve(template.getFileName() + ".meta"), dir.resolve(img.getFileName() + ".meta"), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        EngineConfig cfg = new EngineConfig(sc.cacheBytes(), 0, Long.MAX_VALUE / 2, 1, Long.MAX_VALUE / 4_000_000L, reg, 256);
        int lockdepBefore = LockOrder.LOCKDEP.reports().size();
        IomapFs fs;
        Sched.opening = Thread.currentThread();
        try {
            fs = IomapFs.open(img, cfg);
        } finally {
            Sched.opening = null;
        }
        try {
            fs.context().cache.setMaxFolioOrder(sc.folioOrder());
            long freeBefore = fs.statfs().freeBlocks();
            long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
            long dfh = fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
            Inode in = fs.inodeOf(fh);
            Target files = new Target(fs, fh, dfh, in);
            fs.context().hooks.setCopyInFault(ShortCopy::allowed);
            fs.context().hooks.setWbSubmitFault((inode, pos) -> {
                if (Thread.currentThread() instanceof ExploreThread t && t.wbEio) {
                    t.wbEio = false;
                    return true;
                }
                return false;
            });
            // setup, single-threaded in this thread: the completion worker's part runs after each operation
            List<Done> setupDone = new ArrayList<>();
            for (Scenario.Op op : sc.setup()) {
                Done d = new Done(op);
                d.ret = switch (op.kind()) {
                    case "fsync", "sync", "writeback_wait" -> {
                        settle(fs, in);
                        yield 0;
                    }
                    default -> apply(files, op, null);
                };
                fs.writeback().completeQueued();
                setupDone.add(d);
            }
            for (Map.Entry<Bug, Boolean> b : bugs.entrySet()) {
                fs.controls().write("bugs/" + b.getKey().id, b.getValue() ? "buggy" : "fixed");
            }
            fs.context().trace.clear();
            Run run = new Run(strategy, 200_000);
            // A scenario that unlinks the file gives each thread handles of its own and drops the explorer's, so
            // the last close (iput_final -> evict) happens in a thread, racing with whatever else is in flight.
            boolean unlinks = sc.threads().stream().flatMap(List::stream).anyMatch(op -> op.kind().equals("unlink"));
            List<Target> own = new ArrayList<>();
            if (unlinks) {
                for (int i = 0; i < sc.threads().size(); i++) {
                    own.add(new Target(fs, fs.open("/f", OpenFlags.O_RDWR), fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT), in));
                }
                fs.release(fh);
                fs.release(dfh);
            }
            List<List<Done>> done = new ArrayList<>();
            for (int i = 0; i < sc.threads().size(); i++) {
                List<Done> d = new ArrayList<>();
                done.add(d);
                addThread(run, sc.threadNames().get(i), sc.threads().get(i), unlinks ? own.get(i) : files, d);
            }
            addCompletion(run, fs.writeback(), sc.threads().size());
            List<String> names = new ArrayList<>(sc.threadNames());
            names.add("ioend");
            String failure = run.execute(30_000);
            for (List<Done> t : done) {
                for (Done d : t) {
                    if (failure == null && d.deadlock != null) {
                        failure = "deadlock: " + d.op.line() + ": " + d.deadlock;
                    }
                }
            }
            String kind = failure == null ? null : failure.startsWith("deadlock") ? "deadlock"
                    : failure.startsWith("hang") ? "hang" : failure.startsWith("step") ? "livelock" : "exception";
            long hash = 0;
            String bugLines = bugLines(fs.context().trace);
            if (failure == null && unlinks) {
                // the invariant of an unlinked file: once its last handle is closed, the inode and its blocks are gone
                settle(fs, in);
                for (Target t : own) {
                    closeQuietly(t);
                }
                fs.writeback().completeQueued();
                long free = fs.statfs().freeBlocks();
                hash = free;
                if (!in.isFreeing() || free != freeBefore) {
                    failure = "leak: after unlink and the last close the inode is " + (in.isFreeing() ? "freed" : "still live")
                            + ", free blocks " + free + " (want " + freeBefore + ")";
                    kind = "leak";
                }
            } else if (failure == null) {
                // the invariant's sync and cache drop
                settle(fs, in);
                fs.context().cache.dropClean();
                long size = fs.fgetattr(fh).size();
                ByteBuffer got = ByteBuffer.allocate((int) size);
                int n = size == 0 ? 0 : fs.read(fh, 0, got);
                byte[] actual = Arrays.copyOf(got.array(), n);
                hash = Arrays.hashCode(actual) * 31L + size;
                failure = Shadow.check(setupDone, done, actual);
                if (failure != null) {
                    kind = "data";
                }
                double warns = 0;
                StringBuilder sites = new StringBuilder();
                for (Counter c : reg.find("iomapfs.warn").counters()) {
                    if (c.count() > 0) {
                        warns += c.count();
                        sites.append(' ').append(c.getId().getTag("site"));
                    }
                }
                if (failure == null && warns > 0) {
                    failure = "WARN:" + sites;
                    kind = "warn";
                }
            }
            if (failure == null && LockOrder.LOCKDEP.reports().size() > lockdepBefore) {
                failure = "lockdep: " + LockOrder.LOCKDEP.reports().get(lockdepBefore).lines().findFirst().orElse("");
                kind = "lockdep";
            }
            Map<String, Long> fired = new LinkedHashMap<>();
            for (Bug b : Bug.values()) {
                long c = fs.context().bugs.firedCount(b);
                if (c > 0) {
                    fired.put(b.id, c);
                }
            }
            return new Result(failure, kind, List.copyOf(run.decisions()), List.copyOf(run.events()), names,
                    run.preemptions(), hash, bugLines, fired);
        } finally {
            // without writeback or commit: a run abandoned at a deadlock still has threads holding its locks
            fs.crashForTest();
        }
    }

    /** The scenario's short copy-in: the write's chunk holding the armed offset copies only up to it, once. */
    private static final class ShortCopy {
        static int allowed(Inode inode, long pos, int len) {
            if (Thread.currentThread() instanceof ExploreThread t && t.shortAt >= pos && t.shortAt < pos + len) {
                int n = (int) (t.shortAt - pos);
                t.shortAt = -1;
                return n;
            }
            return len;
        }
    }

    /** fsync without a worker thread: completions run here, then every dirty folio is written and completed. */
    private static void settle(IomapFs fs, Inode in) {
        Writeback wb = fs.writeback();
        wb.completeQueued();
        wb.writepages(in, 0, Long.MAX_VALUE, true);
        wb.completeQueued();
        fs.context().commit(false);
    }

    /** A write_begin that zeroed around a write from an UNWRITTEN map (what a stale map makes it do). */
    private static final java.util.regex.Pattern ZEROED = java.util.regex.Pattern.compile(
            "(\\S+)\\s+WRITE_BEGIN\\s+ino=\\d+ pos=(\\d+) len=\\d+ zero around \\[([^)]*)\\) (iomap\\[.*UNWRITTEN.*)");

    private static String bugLines(Trace trace) {
        StringBuilder sb = new StringBuilder();
        for (String l : trace.dump().split("\n")) {
            java.util.regex.Matcher z = ZEROED.matcher(l);
            if (z.find()) {
                long pos = Long.parseLong(z.group(2));
                sb.append(z.group(1)).append(": write zeroes block ").append(pos / 4096).append(" around [").append(z.group(3))
                        .append(") from its cached map ").append(z.group(4)).append('\n');
            } else if (l.contains(" BUG ") || l.contains("IOMAP_STALE")) {
                sb.append(l.replaceFirst("^\\s*\\d+\\s+\\S+\\s+", "")).append('\n');
            }
        }
        return sb.toString();
    }

    /** The completion worker: runs queued ioends until the scenario's threads are done and none is left. */
    private static void addCompletion(Run run, Writeback wb, int others) {
        List<ExploreThread> ts = List.copyOf(run.threads);
        run.thread("ioend", () -> {
            ExploreThread me = (ExploreThread) Thread.currentThread();
            while (true) {
                Sched.await("ioend queue", () -> wb.hasQueuedCompletions() || ts.stream().allMatch(t -> t.done));
                if (!wb.hasQueuedCompletions()) {
                    return;
                }
                me.op = "I/O completion";
                me.run.shownPoint(me, "completion runs the queued ioends");
                wb.completeQueued();
            }
        });
    }

    /** Closes a thread's handles if its scenario did not (a handle closed already gives EBADF). */
    private static void closeQuietly(Target t) {
        for (long h : new long[] {t.fh, t.dfh}) {
            try {
                t.fs.release(h);
            } catch (FsException e) {
                if (e.errno() != Errno.EBADF) {
                    throw e;
                }
            }
        }
    }

    /** The open file every operation works on: a buffered handle and an O_DIRECT one. */
    private record Target(IomapFs fs, long fh, long dfh, Inode in) { }

    private static void addThread(Run run, String name, List<Scenario.Op> ops, Target f, List<Done> out) {
        run.thread(name, () -> {
            ExploreThread me = (ExploreThread) Thread.currentThread();
            for (Scenario.Op op : ops) {
                Done d = new Done(op);
                out.add(d);
                me.op = op.line();
                me.run.shownPoint(me, op.line() + " starts");
                d.start = me.run.clock();
                String ret;
                try {
                    d.ret = apply(f, op, me);
                    ret = op.kind().startsWith("write") || op.kind().startsWith("d") || op.kind().equals("read")
                            || op.kind().equals("writefrommap") || op.kind().equals("mapread") ? "returns " + d.ret : "returns";
                } catch (FsException e) {
                    d.failed = true;
                    ret = "fails: " + e.errno() + " " + e.getMessage();
                    if (e.errno() == Errno.EDEADLK) {
                        // the model's report of a wait that could never end (the waiter holds what it waits for)
                        d.deadlock = e.getMessage();
                    }
                } catch (PageFaultDeadlock e) {
                    // the model's EDEADLK: the wait it stands for could never end
                    d.failed = true;
                    d.deadlock = e.getMessage();
                    ret = "would wait forever: " + e.getMessage();
                }
                d.end = me.run.clock();
                me.run.note(me, op.line() + " " + ret, true);
                if (op.kind().equals("fsync") && d.failed) {
                    // after a writeback error the data written before it may be gone (the folio is clean)
                    for (Done before : out) {
                        before.maybeLost = before != d;
                    }
                }
            }
            if (me.mapping != null) {
                ((MappedRegion) me.mapping).close();
            }
        });
    }

    private static long apply(Target f, Scenario.Op op, ExploreThread me) {
        IomapFs fs = f.fs;
        return switch (op.kind()) {
            case "write" -> {
                if (me == null) {
                    yield fs.write(f.fh, op.off(), ByteBuffer.wrap(op.bytes()));
                }
                me.shortAt = op.arg();
                try {
                    yield fs.write(f.fh, op.off(), ByteBuffer.wrap(op.bytes()));
                } finally {
                    me.shortAt = -1;
                }
            }
            case "dwrite" -> fs.write(f.dfh, op.off(), ByteBuffer.wrap(op.bytes()));
            case "writepage" -> {
                if (me != null) {
                    me.shortAt = op.arg();
                }
                try {
                    yield fs.writePage(f.fh, op.off(), ByteBuffer.wrap(op.bytes()));
                } finally {
                    if (me != null) {
                        me.shortAt = -1;
                    }
                }
            }
            case "read" -> fs.read(f.fh, op.off(), ByteBuffer.allocate((int) op.len()));
            case "dread" -> fs.read(f.dfh, op.off(), ByteBuffer.allocate((int) op.len()));
            case "mwrite" -> {
                // one shared mapping per thread, kept across its stores (a store after writeback write-protected
                // the page faults again, as it would in the process that mapped it)
                if (me.mapping == null) {
                    me.mapping = fs.mm().map(f.fh, 0, MAP_BYTES);
                }
                ((MappedRegion) me.mapping).store((int) op.off(), op.bytes(), 0, (int) op.len());
                yield op.len();
            }
            case "mapread" -> {
                long start = op.arg() / Folio.PAGE_SIZE * Folio.PAGE_SIZE;
                try (MappedRegion m = fs.mm().map(f.fh, start, (int) (op.arg() - start + op.len()))) {
                    yield fs.mm().read(f.dfh, op.off(), m, (int) (op.arg() - start), (int) op.len());
                }
            }
            case "writefrommap" -> {
                long start = op.arg() / Folio.PAGE_SIZE * Folio.PAGE_SIZE;
                try (MappedRegion m = fs.mm().map(f.fh, start, (int) (op.arg() - start + op.len()))) {
                    yield fs.mm().write(f.fh, op.off(), m, (int) (op.arg() - start), (int) op.len());
                }
            }
            case "writeback" -> {
                fs.writeback().writepages(f.in, op.off(), op.off() + op.len() - 1, false);
                yield 0;
            }
            case "writeback_wait" -> {
                fs.writeback().writeAndWait(f.in, op.off(), op.off() + op.len() - 1);
                yield 0;
            }
            case "fsync" -> {
                if (me != null && op.arg() == 1) {
                    me.wbEio = true;
                }
                try {
                    fs.fsync(f.fh, false);
                } finally {
                    if (me != null) {
                        me.wbEio = false;
                    }
                }
                yield 0;
            }
            case "sync" -> {
                fs.sync();
                yield 0;
            }
            case "drop_caches" -> fs.context().cache.dropClean();
            case "reclaim" -> fs.context().cache.shrink(op.arg());
            case "truncate" -> {
                fs.ftruncate(f.fh, op.off());
                yield 0;
            }
            case "punch" -> {
                fs.fallocate(f.fh, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, op.off(), op.len());
                yield 0;
            }
            case "zero" -> {
                fs.fallocate(f.fh, Falloc.ZERO_RANGE, op.off(), op.len());
                yield 0;
            }
            case "fallocate" -> {
                fs.fallocate(f.fh, op.arg() == 1 ? Falloc.KEEP_SIZE : 0, op.off(), op.len());
                yield 0;
            }
            case "unlink" -> {
                fs.unlink("/f");
                yield 0;
            }
            case "close" -> {
                fs.release(f.fh);
                fs.release(f.dfh);
                yield 0;
            }
            default -> throw new IllegalArgumentException("unknown operation " + op.kind());
        };
    }
}
