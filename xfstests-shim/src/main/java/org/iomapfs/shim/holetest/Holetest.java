package org.iomapfs.shim.holetest;

import org.iomapfs.shim.io.Budget;
import org.iomapfs.shim.io.DaemonRead;
import org.iomapfs.shim.io.Summary;
import org.iomapfs.shim.sys.Cli;
import org.iomapfs.shim.sys.Mappings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * fstests' holetest (src/holetest.c, driven by generic/344, 345 and 346) against a file on a mount: the file is
 * sized by each {@link Sizing} in turn and mapped MAP_SHARED; two writers each store an 8-byte marker into every
 * page, at different offsets of the same pages: both through the mapping, or (-w) writer 0 through pwrite(2).
 * Then every marker is checked through the mapping, as holetest does, and again through the daemon: after
 * msync, fsync and munmap, with O_DIRECT reads and with ordinary reads after a kernel cache drop, because the
 * kernel's page cache can still show what the daemon lost.
 *
 * <p>With --rounds, --ops or --duration it loops over fresh files (the pwrite-vs-mmap race of the compare
 * runner); --msync-ms adds a third thread that msyncs and fsyncs while the writers run, so the kernel sends
 * page writeback to the daemon during the race rather than only at the end.
 */
@Command(name = "holetest", mixinStandardHelpOptions = true, sortOptions = false,
    usageHelpAutoWidth = true,
    description = {"holetest (fstests src/holetest.c): two writers race to store markers into every page of a "
        + "MAP_SHARED mapping of FILE, at different offsets of the same pages; markers are then checked through "
        + "the mapping and through the daemon (O_DIRECT, and reads after a kernel cache drop).",
        "Exit 0: no corruption; 1: corruption, or a call that failed (one line, no RESULT line); 2: bad arguments."},
    footer = {"", "--rounds, --ops (marker stores) or --duration: loop mode, on a fresh file each round.",
        "generic/344: -r, -r -w (16 and 256); generic/345: -F, -F -r (16 and 256); generic/346: -w (1, 16, 256)."})
public final class Holetest implements Callable<Integer> {
    static final int PAGE = 4096;
    static final int THREADS = 2;
    /** holetest.c: step = page_size / THREADS; page_offs[0] = step / 2; page_offs[i] = page_offs[i-1] + step. */
    static final int[] PAGE_OFFS = {PAGE / THREADS / 2, PAGE / THREADS / 2 + PAGE / THREADS};
    static final String CHILD_READY = "READY";

    @Parameters(index = "0", paramLabel = "FILE", description = "file to create on the mount (must not exist)")
    Path file;
    @Parameters(index = "1", paramLabel = "SIZE", converter = SizeConverter.class,
        description = "file size: MiB as holetest's FILESIZEinMB (1, 16, 256), or a number with a K or M suffix")
    long bytes;
    @Option(names = "-f", description = "go on after a marker error (the file is unlinked), still exit 1")
    boolean keepGoing;
    @Option(names = "-w", description = "writer 0 uses pwrite(2) instead of the mapping")
    boolean pwrite;
    @Option(names = "-r", description = "prefault the mapping by reading every page first")
    boolean prefault;
    @Option(names = "-F", description = "writers are separate processes (each maps the file) instead of threads")
    boolean fork;
    @Option(names = "--sizing", split = ",", paramLabel = "METHOD", converter = SizingConverter.class,
        description = "sizing methods, in order: zero-fill, posix-fallocate, fallocate, ftruncate (default: all four)")
    List<Sizing> sizing = List.of(Sizing.values());
    @Option(names = "--daemon-read", defaultValue = "both", paramLabel = "HOW",
        description = "how to read through the daemon: odirect, drop-caches or both (default: ${DEFAULT-VALUE})")
    String daemonRead;
    /** Loop mode's bounds: --rounds, --ops (marker stores), --duration. */
    @Mixin
    Budget.Options bounds = new Budget.Options();
    @Option(names = "--msync-ms", defaultValue = "0", paramLabel = "MS",
        description = "a third thread writes the file back every MS ms while the writers run (0: off)")
    int msyncMs;
    @Option(names = "--flush", defaultValue = "msync", paramLabel = "HOW",
        description = "how that thread writes back: msync (msync + fsync) or syncfs (coreutils sync -f) "
            + "(default: ${DEFAULT-VALUE})")
    String flush;

    @Option(names = "--follow", description = "not in holetest: writer 1 stores into page i only once writer 0 "
        + "has started on page i, so both land in the same page at nearly the same time")
    boolean follow;

    /** -F: the process side of one writer (holetest's forked child); prints nothing, exits 0. */
    @Option(names = "--child", hidden = true)
    String child;
    @Option(names = "--child-offset", hidden = true)
    int childOffset;

    private boolean useODirect;
    private boolean useDrop;
    private boolean dropWarned;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        return Cli.run("holetest", new Holetest(), args);
    }

    @Override
    public Integer call() throws Exception {
        if (child != null) {
            return childWriter(bytes);
        }
        switch (daemonRead) {
            case "odirect" -> useODirect = true;
            case "drop-caches" -> useDrop = true;
            case "both" -> useODirect = useDrop = true;
            default -> throw new Cli.BadArgument("bad --daemon-read '" + daemonRead + "' (odirect, drop-caches or both)");
        }
        if (!flush.equals("msync") && !flush.equals("syncfs")) {
            throw new Cli.BadArgument("bad --flush '" + flush + "' (msync or syncfs)");
        }
        if (msyncMs < 0) {
            throw new Cli.BadArgument("--msync-ms must be >= 0");
        }
        if (follow && fork) {
            throw new Cli.BadArgument("--follow needs threads (not -F)");
        }
        if (Files.exists(file)) {
            throw new FileAlreadyExistsException(file + ": exists (holetest creates its file)");
        }
        boolean loop = bounds.given();
        Budget budget = bounds.start(sizing.size());
        long done = 0;
        long opsDone = 0;
        long badMarkers = 0;
        long badBytes = 0;
        long mapMarkers = 0;
        long daemonMarkers = 0;
        long firstMs = -1;
        long lastProgress = 0;
        String variant = variant();
        while (budget.more(done, opsDone)) {
            Sizing s = sizing.get((int) (done % sizing.size()));
            if (!loop) {
                System.out.printf("%nINFO: %s test (%s)...%n", s.label, variant);
            }
            Round r = round(s, bytes, done, !loop);
            done++;
            opsDone += r.ops;
            badMarkers += Math.max(r.map.badMarkers, r.daemonMarkers());
            badBytes += Math.max(r.map.badBytes, r.daemonBytes());
            mapMarkers += r.map.badMarkers;
            daemonMarkers += r.daemonMarkers();
            boolean bad = !r.clean();
            if (bad && firstMs < 0) {
                firstMs = budget.elapsedMs();
            }
            if (!loop) {
                System.out.printf("INFO: %d error(s) detected (mapping %d, daemon %d)%n",
                    Math.max(r.map.badMarkers, r.daemonMarkers()), r.map.badMarkers, r.daemonMarkers());
            }
            if (bad && !keepGoing) {
                System.out.println("INFO: stopping at the first error; " + file + " is left for inspection");
                break;
            }
            Files.delete(file);
            if (loop && budget.elapsedMs() - lastProgress >= 1000) {
                lastProgress = budget.elapsedMs();
                System.out.println(Summary.progress(opsDone, badMarkers, lastProgress));
            }
        }
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("variant", variant);
        detail.put("sizeBytes", bytes);
        detail.put("mappingCorruptedMarkers", mapMarkers);
        detail.put("daemonCorruptedMarkers", daemonMarkers);
        detail.put("daemonRead", daemonRead + (useDrop && dropWarned ? " (no cache drop: not root)" : ""));
        System.out.println(new Summary("holetest", done, opsDone, badMarkers, badBytes, firstMs, budget.elapsedMs(),
            detail).line());
        return badMarkers > 0 || badBytes > 0 ? 1 : 0;
    }

    private String variant() {
        List<String> v = new ArrayList<>();
        v.add(pwrite ? "-w" : "mmap-vs-mmap");
        if (prefault) {
            v.add("-r");
        }
        if (fork) {
            v.add("-F");
        }
        if (msyncMs > 0) {
            v.add("--msync-ms " + msyncMs + (flush.equals("syncfs") ? " --flush syncfs" : ""));
        }
        if (follow) {
            v.add("--follow");
        }
        return String.join(" ", v);
    }

    /** What one round found: through the mapping, and through the daemon by each way it was read. */
    record Round(long ops, MarkerCheck map, MarkerCheck direct, MarkerCheck dropped) {
        long daemonMarkers() {
            return Math.max(direct == null ? 0 : direct.badMarkers, dropped == null ? 0 : dropped.badMarkers);
        }

        long daemonBytes() {
            return Math.max(direct == null ? 0 : direct.badBytes, dropped == null ? 0 : dropped.badBytes);
        }

        boolean clean() {
            return map.clean() && (direct == null || direct.clean()) && (dropped == null || dropped.clean());
        }
    }

    /** holetest's test_this() for one sizing method, plus the checks through the daemon. */
    private Round round(Sizing s, long bytes, long roundNo, boolean verbose) throws Exception {
        Files.createFile(file); // O_EXCL, as holetest
        s.apply(file, bytes);
        int npages = (int) (bytes / PAGE);
        long[] marker = new long[THREADS];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes);
            map.order(ByteOrder.nativeOrder());
            if (prefault && !fork) {
                prefault(map, npages);
            }
            AtomicBoolean writing = new AtomicBoolean(true);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread flusher = null;
            if (msyncMs > 0) {
                // fuse_fsync (msync(MS_SYNC) ends there too) takes the inode lock that a write() holds for its
                // whole length in the kernel, so this writeback never overlaps a pwrite in flight; syncfs(2) writes
                // back through the flusher path without that lock, as sync_file_range does in xfs/559
                boolean syncfs = flush.equals("syncfs");
                flusher = new Thread(() -> {
                    try {
                        while (writing.get()) {
                            if (syncfs) {
                                // the directory, not the file: a FUSE open of the file without keep_cache
                                // invalidates its page cache, which races with write()s in flight
                                syncfs(file.toAbsolutePath().getParent());
                            } else {
                                map.force();
                                ch.force(true);
                            }
                            TimeUnit.MILLISECONDS.sleep(msyncMs);
                        }
                    } catch (Throwable t) {
                        failed.compareAndSet(null, t);
                    }
                }, "msync");
                flusher.start();
            }
            if (fork) {
                Process[] p = new Process[THREADS];
                for (int t = 0; t < THREADS; t++) {
                    p[t] = startChild(t, bytes);
                    marker[t] = p[t].pid(); // holetest's get_id() with -F: the child's pid
                    if (verbose) {
                        System.out.printf("INFO: process %d created%n", t);
                    }
                }
                // holetest's children inherit the fd; ours open the file, and a FUSE open (no keep_cache)
                // invalidates the file's page cache: all opens happen before any store
                for (int t = 0; t < THREADS; t++) {
                    String ready = readLine(p[t]);
                    if (!CHILD_READY.equals(ready)) {
                        failed.compareAndSet(null, new IOException("writer process " + t + " did not start: " + ready));
                    }
                }
                for (int t = 0; t < THREADS; t++) {
                    p[t].getOutputStream().write('\n');
                    p[t].getOutputStream().close();
                }
                for (int t = 0; t < THREADS; t++) {
                    String out = new String(p[t].getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    if (p[t].waitFor() != 0) {
                        failed.compareAndSet(null, new IOException("writer process " + t + " exited " + p[t].exitValue() + ": " + out.strip()));
                    }
                }
            } else {
                Thread[] th = new Thread[THREADS];
                // --follow: the page writer 0 has started on; writer 1 waits for it
                AtomicInteger reached = new AtomicInteger(follow ? -1 : Integer.MAX_VALUE);
                long pid = ProcessHandle.current().pid();
                for (int t = 0; t < THREADS; t++) {
                    final int who = t;
                    // holetest's marker is pthread_self(): unique per writer; here pid, writer and round
                    marker[t] = pid << 32 | (long) (t + 1) << 24 | (roundNo & 0xffffff);
                    th[t] = new Thread(() -> {
                        try {
                            if (who == 0 && pwrite) {
                                writeMarkers(ch, PAGE_OFFS[who], npages, marker[who], reached);
                            } else if (who == 0) {
                                pageMarkers(map, PAGE_OFFS[who], npages, marker[who], reached, false);
                            } else {
                                pageMarkers(map, PAGE_OFFS[who], npages, marker[who], reached, follow);
                            }
                        } catch (Throwable e) {
                            failed.compareAndSet(null, e);
                        }
                    }, "writer-" + t);
                    th[t].start();
                    if (verbose) {
                        System.out.printf("INFO: thread %d created%n", t);
                    }
                }
                for (Thread t : th) {
                    t.join();
                }
            }
            writing.set(false);
            if (flusher != null) {
                flusher.join();
            }
            if (failed.get() != null) {
                throw new IOException("a writer failed: " + failed.get(), failed.get());
            }
            MarkerCheck viaMap = new MarkerCheck("mapping", PAGE, PAGE_OFFS, marker);
            viaMap.check(0, map.duplicate().position(0).limit((int) bytes));
            map.force();
            ch.force(true);
            Mappings.unmap(map);
            MarkerCheck direct = null;
            MarkerCheck dropped = null;
            if (useODirect) {
                direct = new MarkerCheck("daemon (O_DIRECT)", PAGE, PAGE_OFFS, marker);
                DaemonRead.direct(file, bytes, direct::check);
            }
            if (useDrop) {
                if (DaemonRead.dropKernelCaches()) {
                    dropped = new MarkerCheck("daemon (after drop_caches)", PAGE, PAGE_OFFS, marker);
                    DaemonRead.buffered(file, bytes, dropped::check);
                } else if (!dropWarned) {
                    dropWarned = true;
                    System.out.println("WARNING: cannot write /proc/sys/vm/drop_caches (not root): daemon check by O_DIRECT only");
                    if (!useODirect) {
                        useODirect = true;
                        direct = new MarkerCheck("daemon (O_DIRECT)", PAGE, PAGE_OFFS, marker);
                        DaemonRead.direct(file, bytes, direct::check);
                    }
                }
            }
            return new Round((long) npages * THREADS, viaMap, direct, dropped);
        }
    }

    /** syncfs(2) on the file system holding {@code f}: coreutils {@code sync -f}. */
    private static void syncfs(Path f) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sync", "-f", f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.waitFor() != 0) {
            throw new IOException("sync -f " + f + " failed: " + out);
        }
    }

    /** holetest's prefault_mapping(): read the first byte of each page; a non-zero one is reported, not counted. */
    private static void prefault(MappedByteBuffer map, int npages) {
        for (int i = 0; i < npages; i++) {
            byte b = map.get(i * PAGE);
            if (b != 0) {
                System.err.printf("Prefaulting found non-zero value in page %d: %d%n", i, b);
            }
        }
    }

    /**
     * holetest's pt_page_marker(): one 8-byte store per page through the shared mapping. A leader publishes
     * each page before its store in {@code reached}; a follower waits until the leader has reached the page.
     */
    private static void pageMarkers(MappedByteBuffer map, int off, int npages, long marker, AtomicInteger reached,
                                    boolean follower) {
        // absolute puts do not touch the buffer's position, so the writers may share it
        for (int i = 0; i < npages; i++) {
            if (follower) {
                while (reached.get() < i) {
                    Thread.onSpinWait();
                }
            } else if (reached != null) {
                reached.set(i);
            }
            map.putLong(i * PAGE + off, marker);
        }
    }

    /** holetest's pt_write_marker(): one 8-byte pwrite(2) per page; publishes each page in {@code reached}. */
    private static void writeMarkers(FileChannel ch, int off, int npages, long marker, AtomicInteger reached)
        throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
        for (int i = 0; i < npages; i++) {
            if (reached != null) {
                reached.set(i);
            }
            b.clear();
            b.putLong(0, marker);
            long pos = (long) i * PAGE + off;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        }
    }

    private Process startChild(int who, long bytes) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"), Holetest.class.getName(),
            "--child", who == 0 && pwrite ? "pwrite" : "mmap", "--child-offset", Integer.toString(PAGE_OFFS[who])));
        if (prefault) {
            cmd.add("-r");
        }
        cmd.add(file.toString());
        cmd.add(bytes / 1024 + "K");
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /** One line of a child's output (the first one is its ready line). */
    private static String readLine(Process p) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = p.getInputStream().read()) >= 0 && c != '\n') {
            sb.append((char) c);
        }
        return sb.toString();
    }

    /**
     * The -F child: its own mapping (or fd), its pid as the marker, like holetest's forked pt_*_marker(). It
     * opens the file, prints {@link #CHILD_READY} and stores only once the parent answers with a line.
     */
    private int childWriter(long bytes) throws IOException {
        int npages = (int) (bytes / PAGE);
        long marker = ProcessHandle.current().pid();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            System.out.println(CHILD_READY);
            System.out.flush();
            System.in.read();
            if ("pwrite".equals(child)) {
                writeMarkers(ch, childOffset, npages, marker, null);
                return 0;
            }
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes);
            map.order(ByteOrder.nativeOrder());
            if (prefault) {
                prefault(map, npages);
            }
            pageMarkers(map, childOffset, npages, marker, null, false);
            Mappings.unmap(map); // as the child's exit would; the stores stay dirty in the page cache
        }
        return 0;
    }

    /** SIZE: MiB as holetest's FILESIZEinMB, or with a size suffix (64K); a whole number of pages. */
    public static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String s) {
            long v;
            try {
                v = Cli.parseSize(s, 1L << 20);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("bad SIZE '" + s + "' (MiB, e.g. 16, or 64K)");
            }
            if (v < PAGE || v % PAGE != 0 || v > Integer.MAX_VALUE) {
                throw new CommandLine.TypeConversionException("bad SIZE '" + s + "': a multiple of 4 KiB from 4K to 2047M");
            }
            return v;
        }
    }

    /** picocli converter for --sizing. */
    public static final class SizingConverter implements CommandLine.ITypeConverter<Sizing> {
        @Override
        public Sizing convert(String value) {
            try {
                return Sizing.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
