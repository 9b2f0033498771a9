package org.iomapfs.tests;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several threads doing buffered writes, page_mkwrite stores, reads, truncates, punches, zero ranges,
 * fallocates and fsyncs on a few shared files, with background writeback and a tiny reclaim budget, checked
 * against a shadow copy. Each thread owns byte slots (3000 bytes, so slots share blocks and folios with
 * other threads' slots) and only changes its own, so every read of a slot has one right answer while
 * writeback, completion and reclaim race with everything. Truncate and fsync+verify take a per-file test
 * lock exclusively (the shadow cannot follow a truncate racing with slot writes).
 *
 * <p>Replay: {@code -Dstress.seed=N} reruns the same per-thread operation sequences; with
 * {@code -Dstress.threads=1} the sequence is fully determined except for background writeback timing.
 */
class EngineStressTest {
    static final int SLOT = 3000;
    static final int MAX_SIZE = 192 * 1024;

    @TempDir
    Path dir;

    static final class FileState {
        final ReentrantReadWriteLock testLock = new ReentrantReadWriteLock();
        final byte[] shadow = new byte[MAX_SIZE + SLOT];
        long size;
        long fh;
        long dfh;

        synchronized void grow(long end) {
            size = Math.max(size, end);
        }

        synchronized long size() { return size; }
    }

    @Test
    void concurrentMixedOperationsMatchTheShadowModel() throws Exception {
        run(Long.getLong("stress.ops", 200_000), false);
    }

    /**
     * The same with every switch fixed and the injections on over the first 32 KiB of each file: a delay after
     * ->iomap_begin and in writeback, short copy-ins (retried by the write loop), and reclaim every 2 ms.
     */
    @Test
    void withInjectionsMatchesTheShadowModel() throws Exception {
        run(Long.getLong("stress.injected.ops", 40_000), true);
    }

    /**
     * Writeback EIO at submission and at completion, on top of the injections above: data may be lost, but never
     * silently. Whenever fsync fails the writer rewrites the file from its shadow and fsyncs again (what an
     * application that checks fsync must do), and after every successful fsync the file matches the shadow.
     * Reads are checked only then: between an error and the fsync that reports it, evicted folios may
     * legitimately read back what the image holds.
     */
    @Test
    void withWritebackErrorsEveryLossIsReportedByFsync() throws Exception {
        long seed = Long.getLong("stress.seed", System.nanoTime());
        long totalOps = Long.getLong("stress.eio.ops", 8_000);
        int threads = 3;
        System.out.println("EngineStressTest EIO seed=" + seed + " ops=" + totalOps + " (replay: -Dstress.seed=" + seed + ")");
        Path img = dir.resolve("img");
        Mkfs.format(img, 256L << 20, 1024, true);
        EngineConfig cfg = EngineConfig.defaults().withCacheBytes(64 * 4096).withWritebackIntervalMs(5)
                .withDirtyThresholdFolios(16).withTraceEvents(1 << 16);
        IomapFs fs = IomapFs.open(img, cfg);
        injectDelaysShortCopiesAndReclaim(fs, seed, "0-65536");
        fs.controls().write("inject/wb_submit_eio", "0.01");
        fs.controls().write("inject/wb_complete_eio", "0.01");
        FileState f = new FileState();
        f.fh = fs.create("/eio", 0644, OpenFlags.O_RDWR, 0, 0);
        f.dfh = fs.open("/eio", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        ConcurrentLinkedQueue<String> mismatches = new ConcurrentLinkedQueue<>();
        AtomicLong eioReports = new AtomicLong();
        AtomicLong goodChecks = new AtomicLong();
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        runThreads(threads, seed, "eio", errors, (me, r) -> {
            for (long i = 0; i < totalOps / threads && mismatches.isEmpty(); i++) {
                if (r.nextInt(100) < 4) {
                    fsyncRewriteVerify(fs, f, eioReports, mismatches);
                    goodChecks.incrementAndGet();
                } else {
                    writeSlot(fs, f, me, threads, r, mismatches);
                }
            }
        });
        fs.controls().write("inject/wb_submit_eio", "0");
        fs.controls().write("inject/wb_complete_eio", "0");
        fsyncRewriteVerify(fs, f, eioReports, mismatches);
        fs.dropCaches();
        verifyWhole(fs, f, "final after cache drop", mismatches);
        double wbErrors = cfg.registry().counter("iomapfs.writeback.errors").count();
        System.out.printf("EngineStressTest EIO: %d good fsync checks, %d fsyncs failed with EIO, %.0f writeback errors, %d mismatches%n",
                goodChecks.get(), eioReports.get(), wbErrors, mismatches.size());
        fs.close();
        if (!errors.isEmpty()) {
            throw new AssertionError("stress thread failed (seed " + seed + ")", errors.get(0));
        }
        assertTrue(mismatches.isEmpty(), "seed " + seed + ": " + String.join("\n", mismatches));
        assertTrue(wbErrors > 0, "the injected writeback errors happened");
        assertTrue(eioReports.get() > 0, "fsync reported them");
    }

    /** 1 ms delays after ->iomap_begin and in writeback, 30% short copy-ins, reclaim every 2 ms, over {@code range}. */
    private static void injectDelaysShortCopiesAndReclaim(IomapFs fs, long seed, String range) {
        fs.controls().write("inject/seed", Long.toString(seed));
        fs.controls().write("inject/target_range", range);
        fs.controls().write("inject/write_delay_ms", "1");
        fs.controls().write("inject/wb_delay_ms", "1");
        fs.controls().write("inject/copyin_fail", "0.3");
        fs.controls().write("inject/reclaim_every_ms", "2");
    }

    @FunctionalInterface
    interface ThreadBody {
        void run(int me, Random r) throws Exception;
    }

    /** Runs {@code body} on {@code n} threads, each with its own seeded Random, and waits; failures go to errors. */
    private static void runThreads(int n, long seed, String name, List<Throwable> errors, ThreadBody body)
            throws InterruptedException {
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            int me = t;
            Thread th = new Thread(() -> {
                try {
                    body.run(me, new Random(seed * 31 + me));
                } catch (Throwable e) {
                    errors.add(e);
                }
            }, name + "-" + me);
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
    }

    /** A buffered write or a page_mkwrite store into one of my slots. */
    private static void writeSlot(IomapFs fs, FileState f, int me, int threads, Random r, ConcurrentLinkedQueue<String> mismatches) {
        int nslots = MAX_SIZE / SLOT;
        int slot = r.nextInt(nslots / threads) * threads + me;
        int a = slot * SLOT + r.nextInt(SLOT);
        int b = Math.min(slot * SLOT + SLOT, a + 1 + r.nextInt(SLOT));
        int len = b - a;
        byte[] data = new byte[len];
        r.nextBytes(data);
        f.testLock.readLock().lock();
        try {
            if (r.nextInt(3) > 0 || b > f.size()) {
                long n = fs.write(f.fh, a, ByteBuffer.wrap(data));
                if (n != len) {
                    mismatches.add("short write at " + a + ": " + n + " < " + len);
                }
                f.grow(b);
            } else {
                int n = fs.writePage(f.fh, a, ByteBuffer.wrap(data));
                if (n != len) {
                    mismatches.add("short page_mkwrite store at " + a + ": " + n + " < " + len);
                }
            }
            System.arraycopy(data, 0, f.shadow, a, len);
        } finally {
            f.testLock.readLock().unlock();
        }
    }

    /** fsync; on EIO rewrite the whole file from the shadow and fsync again; then check the whole file. */
    private static void fsyncRewriteVerify(IomapFs fs, FileState f, AtomicLong eioReports, ConcurrentLinkedQueue<String> mismatches) {
        f.testLock.writeLock().lock();
        try {
            for (int attempt = 0; ; attempt++) {
                try {
                    fs.fsync(f.fh, false);
                    break;
                } catch (org.iomapfs.core.api.FsException e) {
                    assertEquals(org.iomapfs.core.api.Errno.EIO, e.errno(), e.toString());
                    eioReports.incrementAndGet();
                    assertTrue(attempt < 100, "fsync kept failing: " + e);
                    int size = (int) f.size();
                    assertEquals(size, fs.write(f.fh, 0, ByteBuffer.wrap(f.shadow, 0, size)));
                }
            }
            verifyWhole(fs, f, "after a successful fsync", mismatches);
        } finally {
            f.testLock.writeLock().unlock();
        }
    }

    private void run(long totalOps, boolean inject) throws Exception {
        long seed = Long.getLong("stress.seed", System.nanoTime());
        int threads = Integer.getInteger("stress.threads", 4);
        int blockSize = Integer.getInteger("stress.bs", 1024);
        System.out.println("EngineStressTest seed=" + seed + " threads=" + threads + " ops=" + totalOps + " bs=" + blockSize
                + " (replay: -Dstress.seed=" + seed + ")");
        Path img = dir.resolve("img");
        Mkfs.format(img, 256L << 20, blockSize, true);
        EngineConfig cfg = EngineConfig.defaults().withCacheBytes(64 * 4096).withWritebackIntervalMs(5)
                .withDirtyThresholdFolios(16).withTraceEvents(1 << 18);
        IomapFs fs = IomapFs.open(img, cfg);
        if (inject) {
            injectDelaysShortCopiesAndReclaim(fs, seed, "0-32768");
            System.out.println("EngineStressTest injections: " + fs.controls().read("inject/copyin_fail").strip() + " short copy-ins, 1 ms delays, reclaim every 2 ms over 0-32768");
        }
        FileState[] files = new FileState[3];
        for (int i = 0; i < files.length; i++) {
            files[i] = new FileState();
            files[i].fh = fs.create("/f" + i, 0644, OpenFlags.O_RDWR, 0, 0);
            files[i].dfh = fs.open("/f" + i, OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        }
        ConcurrentLinkedQueue<String> mismatches = new ConcurrentLinkedQueue<>();
        AtomicLong done = new AtomicLong();
        AtomicLong fsyncChecks = new AtomicLong();
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        long perThread = totalOps / threads;
        runThreads(threads, seed, "stress", errors, (me, r) -> {
            for (long i = 0; i < perThread && mismatches.size() < 5; i++) {
                step(fs, files[r.nextInt(files.length)], me, threads, r, mismatches, fsyncChecks);
                done.incrementAndGet();
            }
        });
        for (FileState f : files) {
            f.testLock.writeLock().lock();
            try {
                fs.fsync(f.fh, false);
                verifyWhole(fs, f, "final", mismatches);
            } finally {
                f.testLock.writeLock().unlock();
            }
        }
        fs.dropCaches();
        for (FileState f : files) {
            verifyWhole(fs, f, "final after cache drop", mismatches);
        }
        assertEquals("fixed\n", fs.controls().read("mode"));
        var m = cfg.registry();
        System.out.printf("EngineStressTest: %d ops, %d fsync checks, %d mismatches, evictions=%.0f stale=%.0f remaps=%.0f%n",
                done.get(), fsyncChecks.get(), mismatches.size(), m.counter("iomapfs.pagecache.evictions").count(),
                m.counter("iomapfs.iomap.stale").count(), m.counter("iomapfs.iomap.remaps").count());
        fs.close();
        if (!errors.isEmpty()) {
            throw new AssertionError("stress thread failed (seed " + seed + ")", errors.get(0));
        }
        assertTrue(mismatches.isEmpty(), "seed " + seed + ": " + String.join("\n", mismatches));
        assertEquals(perThread * threads, done.get());
        assertTrue(m.counter("iomapfs.pagecache.evictions").count() > 0, "reclaim ran");
    }

    private static void step(IomapFs fs, FileState f, int me, int threads, Random r,
                             ConcurrentLinkedQueue<String> mismatches, AtomicLong fsyncChecks) {
        int op = r.nextInt(100);
        if (op < 2) {
            f.testLock.writeLock().lock();
            try {
                long ns = r.nextInt(MAX_SIZE);
                fs.ftruncate(f.fh, ns);
                synchronized (f) {
                    java.util.Arrays.fill(f.shadow, (int) Math.min(ns, f.size), f.shadow.length, (byte) 0);
                    f.size = ns;
                }
            } finally {
                f.testLock.writeLock().unlock();
            }
            return;
        }
        if (op < 4) {
            f.testLock.writeLock().lock();
            try {
                fs.fsync(f.fh, false);
                verifyWhole(fs, f, "after fsync", mismatches);
                fsyncChecks.incrementAndGet();
            } finally {
                f.testLock.writeLock().unlock();
            }
            return;
        }
        // a random sub-range of one of my slots
        int nslots = MAX_SIZE / SLOT;
        int slot = r.nextInt(nslots / threads) * threads + me;
        int a = slot * SLOT + r.nextInt(SLOT);
        int b = Math.min(slot * SLOT + SLOT, a + 1 + r.nextInt(SLOT));
        int len = b - a;
        f.testLock.readLock().lock();
        try {
            if (op < 40) {
                byte[] data = new byte[len];
                r.nextBytes(data);
                long n = fs.write(f.fh, a, ByteBuffer.wrap(data));
                if (n != len) {
                    mismatches.add("short write at " + a + ": " + n + " < " + len);
                }
                System.arraycopy(data, 0, f.shadow, a, len);
                f.grow(b);
            } else if (op < 55) {
                if (b <= f.size()) {
                    byte[] data = new byte[len];
                    r.nextBytes(data);
                    int n = fs.writePage(f.fh, a, ByteBuffer.wrap(data));
                    if (n != len) {
                        mismatches.add("short page_mkwrite store at " + a + ": " + n + " < " + len);
                    }
                    System.arraycopy(data, 0, f.shadow, a, len);
                }
            } else if (op < 85) {
                ByteBuffer bb = ByteBuffer.allocate(len);
                long sizeBefore = f.size();
                int n = fs.read(f.fh, a, bb);
                long want = Math.max(0, Math.min(b, sizeBefore) - a);
                if (n < want) {
                    mismatches.add("short read at " + a + ": " + n + " < " + want);
                }
                for (int i = 0; i < n; i++) {
                    if (bb.get(i) != f.shadow[a + i]) {
                        mismatches.add("read mismatch at offset " + (a + i) + ": got " + bb.get(i) + " want " + f.shadow[a + i]);
                        break;
                    }
                }
            } else if (op < 91) {
                fs.fallocate(f.fh, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, a, len);
                java.util.Arrays.fill(f.shadow, a, b, (byte) 0);
            } else if (op < 95) {
                fs.fallocate(f.fh, Falloc.ZERO_RANGE | Falloc.KEEP_SIZE, a, len);
                java.util.Arrays.fill(f.shadow, a, b, (byte) 0);
            } else {
                boolean keep = r.nextBoolean();
                fs.fallocate(f.fh, keep ? Falloc.KEEP_SIZE : 0, a, len);
                if (!keep) {
                    f.grow(b);
                }
            }
        } finally {
            f.testLock.readLock().unlock();
        }
    }

    /** Whole file through the page cache and through direct I/O (what is on the image). */
    private static void verifyWhole(IomapFs fs, FileState f, String when, ConcurrentLinkedQueue<String> mismatches) {
        long size = f.size();
        if (fs.fgetattr(f.fh).size() != size) {
            mismatches.add(when + ": size " + fs.fgetattr(f.fh).size() + " want " + size);
            return;
        }
        ByteBuffer bb = ByteBuffer.allocate((int) size);
        fs.read(f.fh, 0, bb);
        compare(fs, f, bb.array(), (int) size, when + " (buffered)", mismatches);
        int aligned = (int) ((size + 4095) / 4096 * 4096);
        ByteBuffer db = ByteBuffer.allocate(aligned);
        int n = fs.read(f.dfh, 0, db);
        if (n != size) {
            mismatches.add(when + " (direct): read " + n + " want " + size);
        }
        compare(fs, f, db.array(), (int) size, when + " (direct)", mismatches);
    }

    private static void compare(IomapFs fs, FileState f, byte[] got, int len, String what,
                                ConcurrentLinkedQueue<String> mismatches) {
        int i = java.util.Arrays.mismatch(got, 0, len, f.shadow, 0, len);
        if (i < 0) {
            return;
        }
        if (mismatches.isEmpty()) {
            System.out.println(traceOfFolio(fs, f, i));
        }
        mismatches.add(what + ": first mismatch at offset " + i + " got " + got[i] + " want " + f.shadow[i]);
    }

    /** The engine's retained trace events for the folio holding {@code offset}, to explain a mismatch. */
    private static String traceOfFolio(IomapFs fs, FileState f, long offset) {
        long ino = fs.fgetattr(f.fh).ino();
        long folio = offset / 4096 * 4096;
        StringBuilder sb = new StringBuilder("trace of ino " + ino + " around folio " + folio + ":\n");
        for (String line : fs.controls().read("trace").split("\n")) {
            java.util.regex.Matcher m = TRACE_LINE.matcher(line);
            if (m.find() && Long.parseLong(m.group(1)) == ino) {
                long pos = Long.parseLong(m.group(2));
                long len = Math.max(1, Long.parseLong(m.group(3)));
                if (pos < folio + 4096 && pos + len > folio) {
                    sb.append(line).append('\n');
                }
            }
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------------------------------------
    // namespace operations

    static final int NS_MAX = 48 * 1024;

    /**
     * Namespace operations on files that have dirty folios, folios under writeback (the flusher every 5 ms,
     * wb_delay_ms, and writeback started on purpose just before the last reference goes) and folios being
     * reclaimed: create, write, page_mkwrite, unlink, rename over an existing file, link, mkdir and rmdir of an
     * emptied directory, holding a file open across its unlink and the last close that frees it. Each thread
     * works in its own directory, so its shadow namespace has one right answer, while the engine's namespace
     * lock, completion worker, flusher and reclaim are shared. Checked: every read against the shadow (a
     * renamed file keeps its bytes, a link shares them, a new file under a removed name starts empty), a
     * removed name is gone, and at the end, everything removed and synced, every block is free again and fsck
     * is clean. A thread making no progress for {@code stress.stall.s} seconds (a deadlock) fails the test with
     * the stacks instead of hanging the suite.
     */
    @Test
    void namespaceOperationsWithInjectionsMatchTheShadowModel() throws Exception {
        runNamespace(Long.getLong("stress.ns.ops", 6_000), false);
    }

    /**
     * The same with writeback EIO at submission and completion: contents are checked only after an fsync that
     * succeeded (on EIO the file is rewritten from its shadow and fsynced again), and a file removed with an
     * unreported error is simply gone.
     */
    @Test
    void namespaceOperationsWithWritebackErrorsMatchTheShadowModel() throws Exception {
        runNamespace(Long.getLong("stress.ns.eio.ops", 4_000), true);
    }

    /** A file of the shadow namespace: its bytes, its links and the handle a thread keeps open on it, if any. */
    static final class NsFile {
        final byte[] data = new byte[NS_MAX];
        int size;
        int links;
        long held = -1;
    }

    /** One thread's part of the namespace: /nT/f0..f5 and /nT/s/g0..g2, plus its open-unlinked files. */
    static final class NsThread {
        final String root;
        final java.util.TreeMap<String, NsFile> names = new java.util.TreeMap<>();
        final List<NsFile> orphans = new ArrayList<>();
        boolean subdir;

        NsThread(int me) { root = "/n" + me; }

        List<String> candidates() {
            List<String> c = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                c.add(root + "/f" + i);
            }
            if (subdir) {
                for (int i = 0; i < 3; i++) {
                    c.add(root + "/s/g" + i);
                }
            }
            return c;
        }
    }

    static final class NsCounters {
        final AtomicLong ops = new AtomicLong();
        final AtomicLong unlinks = new AtomicLong();
        final AtomicLong renamesOver = new AtomicLong();
        final AtomicLong links = new AtomicLong();
        final AtomicLong lastCloses = new AtomicLong();
        final AtomicLong rmdirs = new AtomicLong();
        final AtomicLong underWriteback = new AtomicLong();
        final AtomicLong checks = new AtomicLong();
        final AtomicLong eio = new AtomicLong();
    }

    private void runNamespace(long totalOps, boolean eio) throws Exception {
        long seed = Long.getLong("stress.seed", System.nanoTime());
        int threads = Integer.getInteger("stress.threads", 4);
        long stallS = Long.getLong("stress.stall.s", 30);
        System.out.println("EngineStressTest namespace" + (eio ? " EIO" : "") + " seed=" + seed + " threads=" + threads
                + " ops=" + totalOps + " (replay: -Dstress.seed=" + seed + ")");
        Path img = dir.resolve("img");
        Mkfs.format(img, 256L << 20, 1024, true);
        EngineConfig cfg = EngineConfig.defaults().withCacheBytes(64 * 4096).withWritebackIntervalMs(5)
                .withDirtyThresholdFolios(16).withTraceEvents(1 << 16);
        IomapFs fs = IomapFs.open(img, cfg);
        boolean wedged = false;
        try {
            long freeAtStart = fs.statfs().availBlocks();
            injectDelaysShortCopiesAndReclaim(fs, seed, "0-" + NS_MAX);
            if (eio) {
                fs.controls().write("inject/wb_submit_eio", "0.01");
                fs.controls().write("inject/wb_complete_eio", "0.01");
            }
            NsThread[] parts = new NsThread[threads];
            for (int t = 0; t < threads; t++) {
                parts[t] = new NsThread(t);
                fs.mkdir(parts[t].root, 0755, 0, 0);
            }
            ConcurrentLinkedQueue<String> mismatches = new ConcurrentLinkedQueue<>();
            NsCounters n = new NsCounters();
            List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            long perThread = totalOps / threads;
            String stall = runThreadsBounded(threads, seed, "stress-ns", errors, n.ops, stallS, (me, r) -> {
                for (long i = 0; i < perThread && mismatches.isEmpty(); i++) {
                    nsStep(fs, parts[me], r, eio, n, mismatches);
                    n.ops.incrementAndGet();
                }
            });
            if (stall != null) {
                wedged = true;
                throw new AssertionError("seed " + seed + ": " + stall);
            }
            if (!errors.isEmpty()) {
                throw new AssertionError("stress thread failed (seed " + seed + ")", errors.get(0));
            }
            fs.controls().write("inject/wb_submit_eio", "0");
            fs.controls().write("inject/wb_complete_eio", "0");
            for (NsThread part : parts) {
                for (String name : part.names.keySet()) {
                    fsyncVerify(fs, name, part.names.get(name), eio, n, mismatches);
                }
            }
            fs.dropCaches();
            for (NsThread part : parts) {
                for (String name : part.names.keySet()) {
                    verifyNs(fs, name, part.names.get(name), "final after cache drop", mismatches);
                }
                removeAll(fs, part);
                fs.rmdir(part.root);
            }
            fs.sync();
            long freeAtEnd = fs.statfs().availBlocks();
            System.out.printf("EngineStressTest namespace%s: %d ops, %d unlinks, %d renames over a file, %d links, %d last closes"
                            + " of open-unlinked files, %d rmdirs, %d started right after writeback, %d content checks,"
                            + " %d fsyncs failed with EIO, %d mismatches, evictions=%.0f, free blocks %d -> %d%n",
                    eio ? " EIO" : "", n.ops.get(), n.unlinks.get(), n.renamesOver.get(), n.links.get(), n.lastCloses.get(),
                    n.rmdirs.get(), n.underWriteback.get(), n.checks.get(), n.eio.get(), mismatches.size(),
                    cfg.registry().counter("iomapfs.pagecache.evictions").count(), freeAtStart, freeAtEnd);
            assertTrue(mismatches.isEmpty(), "seed " + seed + ": " + String.join("\n", mismatches));
            assertEquals(freeAtStart, freeAtEnd, "seed " + seed + ": every block is free again once every file is removed");
            assertTrue(n.lastCloses.get() > 0 && n.renamesOver.get() > 0 && n.rmdirs.get() > 0, "the workload reached every operation");
            fs.close();
            var report = org.iomapfs.core.store.Fsck.check(img);
            assertTrue(report.clean(), "seed " + seed + ": fsck: " + report.problems());
        } finally {
            if (wedged) {
                // abandoned, not closed: close would wait for the stuck threads; stop the injected reclaim loop
                fs.context().inject.close();
                fs.crashForTest();
            } else {
                fs.close();
            }
        }
    }

    /**
     * Runs {@code body} on {@code n} daemon threads and waits while {@code progress} moves; returns null when all
     * ended, or, when it stood still for {@code stallS} seconds, a description with every stuck thread's stack.
     */
    private static String runThreadsBounded(int n, long seed, String name, List<Throwable> errors, AtomicLong progress,
                                            long stallS, ThreadBody body) throws InterruptedException {
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            int me = t;
            Thread th = new Thread(() -> {
                try {
                    body.run(me, new Random(seed * 31 + me));
                } catch (Throwable e) {
                    errors.add(e);
                }
            }, name + "-" + me);
            th.setDaemon(true);
            ts.add(th);
            th.start();
        }
        long last = -1;
        long since = System.nanoTime();
        for (Thread th : ts) {
            while (th.isAlive()) {
                th.join(500);
                long p = progress.get();
                if (p != last) {
                    last = p;
                    since = System.nanoTime();
                } else if (System.nanoTime() - since > stallS * 1_000_000_000L) {
                    return "no operation finished for " + stallS + " s after " + p + " ops (deadlock?)\n" + stuckStacks(ts);
                }
            }
        }
        return null;
    }

    /** The stacks of the given threads still alive and of the engine's threads, down to the test's frames. */
    private static String stuckStacks(List<Thread> workers) {
        StringBuilder sb = new StringBuilder();
        for (java.util.Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            Thread th = e.getKey();
            if (!(workers.contains(th) || th.getName().startsWith("iomapfs-")) || !th.isAlive()) {
                continue;
            }
            ThreadStacks.append(sb, th, e.getValue());
        }
        return sb.toString();
    }

    private static void nsStep(IomapFs fs, NsThread me, Random r, boolean eio, NsCounters n,
                               ConcurrentLinkedQueue<String> mismatches) {
        List<String> cands = me.candidates();
        List<String> existing = new ArrayList<>(me.names.keySet());
        String any = existing.isEmpty() ? null : existing.get(r.nextInt(existing.size()));
        List<String> free = new ArrayList<>(cands);
        free.removeAll(existing);
        String freeName = free.isEmpty() ? null : free.get(r.nextInt(free.size()));
        int op = r.nextInt(100);
        if (op < 12 || any == null) {
            if (freeName != null) {
                NsFile f = new NsFile();
                long fh = fs.create(freeName, 0644, OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_EXCL, 0, 0);
                f.links = 1;
                me.names.put(freeName, f);
                verifyHandle(fs, fh, f, "new file " + freeName + " (a removed file's data must be gone)", mismatches);
                writeNs(fs, fh, f, r, true, mismatches);
                if (r.nextInt(4) == 0) {
                    f.held = fh;
                } else {
                    fs.release(fh);
                }
            }
        } else if (op < 32) {
            NsFile f = !me.orphans.isEmpty() && r.nextInt(4) == 0 ? me.orphans.get(r.nextInt(me.orphans.size())) : me.names.get(any);
            long fh = f.held >= 0 ? f.held : fs.open(any, OpenFlags.O_RDWR);
            writeNs(fs, fh, f, r, r.nextInt(4) > 0 || f.size == 0, mismatches);
            if (fh != f.held) {
                fs.release(fh);
            }
        } else if (op < 42) {
            if (!eio) {
                verifyNs(fs, any, me.names.get(any), "read", mismatches);
                n.checks.incrementAndGet();
            }
        } else if (op < 50) {
            NsFile f = me.names.get(any);
            startWritebackMaybe(fs, any, f, r, n);
            fs.unlink(any);
            me.names.remove(any);
            dropLink(me, f);
            n.unlinks.incrementAndGet();
            try {
                fs.getattr(any);
                mismatches.add(any + " still exists after unlink");
            } catch (FsException e) {
                if (e.errno() != Errno.ENOENT) {
                    mismatches.add("getattr of removed " + any + ": " + e);
                }
            }
        } else if (op < 58) {
            String to = r.nextInt(5) == 0 && freeName != null ? freeName : existing.get(r.nextInt(existing.size()));
            NsFile moving = me.names.get(any);
            NsFile replaced = me.names.get(to);
            if (replaced != null && replaced != moving) {
                startWritebackMaybe(fs, to, replaced, r, n);
            }
            fs.rename(any, to);
            if (replaced != moving) {
                me.names.remove(any);
                me.names.put(to, moving);
                if (replaced != null) {
                    dropLink(me, replaced);
                    n.renamesOver.incrementAndGet();
                }
            }
            if (!eio) {
                verifyNs(fs, to, moving, "after rename " + any + " -> " + to + " (the renamed file keeps its bytes)", mismatches);
            }
        } else if (op < 64) {
            if (freeName != null) {
                NsFile f = me.names.get(any);
                fs.link(any, freeName);
                f.links++;
                me.names.put(freeName, f);
                n.links.incrementAndGet();
                if (!eio) {
                    verifyNs(fs, freeName, f, "new link " + freeName + " to " + any + " (a link shares the data)", mismatches);
                }
            }
        } else if (op < 70) {
            NsFile f = me.names.get(any);
            if (f.held < 0) {
                f.held = fs.open(any, OpenFlags.O_RDWR);
            }
        } else if (op < 78) {
            List<NsFile> held = new ArrayList<>(me.orphans);
            for (NsFile f : me.names.values()) {
                if (f.held >= 0 && !held.contains(f)) {
                    held.add(f);
                }
            }
            if (!held.isEmpty()) {
                NsFile f = held.get(r.nextInt(held.size()));
                if (r.nextBoolean()) {
                    fs.writeback().writepages(fs.inodeOf(f.held), 0, Long.MAX_VALUE, false);
                    n.underWriteback.incrementAndGet();
                }
                fs.release(f.held);
                f.held = -1;
                if (me.orphans.remove(f)) {
                    n.lastCloses.incrementAndGet();
                }
            }
        } else if (op < 84) {
            if (!me.subdir) {
                fs.mkdir(me.root + "/s", 0755, 0, 0);
                me.subdir = true;
            } else {
                for (String name : new ArrayList<>(me.names.keySet())) {
                    if (name.startsWith(me.root + "/s/")) {
                        NsFile f = me.names.remove(name);
                        startWritebackMaybe(fs, name, f, r, n);
                        fs.unlink(name);
                        dropLink(me, f);
                        n.unlinks.incrementAndGet();
                    }
                }
                fs.rmdir(me.root + "/s");
                me.subdir = false;
                n.rmdirs.incrementAndGet();
            }
        } else if (op < 92) {
            fsyncVerify(fs, any, me.names.get(any), eio, n, mismatches);
        } else {
            NsFile f = me.names.get(any);
            if (f.size > 0) {
                long fh = f.held >= 0 ? f.held : fs.open(any, OpenFlags.O_RDWR);
                int a = r.nextInt(f.size);
                int len = 1 + r.nextInt(Math.min(f.size - a, 6000));
                byte[] data = new byte[len];
                r.nextBytes(data);
                int w = fs.writePage(fh, a, ByteBuffer.wrap(data));
                if (w != len) {
                    mismatches.add("short page_mkwrite store at " + a + ": " + w + " < " + len);
                }
                System.arraycopy(data, 0, f.data, a, len);
                if (fh != f.held) {
                    fs.release(fh);
                }
            }
        }
    }

    /** Half the time, starts writeback of the file about to lose a link, without waiting for it. */
    private static void startWritebackMaybe(IomapFs fs, String name, NsFile f, Random r, NsCounters n) {
        if (f.links == 1 && r.nextBoolean()) {
            fs.writeback().writepages(fs.inode(name), 0, Long.MAX_VALUE, false);
            n.underWriteback.incrementAndGet();
        }
    }

    /** One link fewer; a file still held open becomes an orphan, freed at its last close. */
    private static void dropLink(NsThread me, NsFile f) {
        f.links--;
        if (f.links == 0 && f.held >= 0) {
            me.orphans.add(f);
        }
    }

    /** A buffered write of random bytes, anywhere below NS_MAX ({@code grow}) or inside the file. */
    private static void writeNs(IomapFs fs, long fh, NsFile f, Random r, boolean grow, ConcurrentLinkedQueue<String> mismatches) {
        int limit = grow ? NS_MAX : f.size;
        if (limit == 0) {
            return;
        }
        int a = r.nextInt(limit);
        int len = 1 + r.nextInt(Math.min(limit - a, r.nextBoolean() ? 1500 : 16 * 1024));
        byte[] data = new byte[len];
        r.nextBytes(data);
        long w = fs.write(fh, a, ByteBuffer.wrap(data));
        if (w != len) {
            mismatches.add("short write at " + a + ": " + w + " < " + len);
        }
        System.arraycopy(data, 0, f.data, a, len);
        f.size = Math.max(f.size, a + len);
    }

    /** fsync; on EIO rewrite the file from its shadow and fsync again; then check it. */
    private static void fsyncVerify(IomapFs fs, String name, NsFile f, boolean eio, NsCounters n,
                                    ConcurrentLinkedQueue<String> mismatches) {
        long fh = f.held >= 0 ? f.held : fs.open(name, OpenFlags.O_RDWR);
        try {
            for (int attempt = 0; ; attempt++) {
                try {
                    fs.fsync(fh, false);
                    break;
                } catch (FsException e) {
                    if (!eio || e.errno() != Errno.EIO || attempt >= 100) {
                        throw e;
                    }
                    n.eio.incrementAndGet();
                    assertEquals(f.size, fs.write(fh, 0, ByteBuffer.wrap(f.data, 0, f.size)));
                }
            }
            verifyHandle(fs, fh, f, name + " after a successful fsync", mismatches);
            n.checks.incrementAndGet();
        } finally {
            if (fh != f.held) {
                fs.release(fh);
            }
        }
    }

    private static void verifyNs(IomapFs fs, String name, NsFile f, String when, ConcurrentLinkedQueue<String> mismatches) {
        long fh = fs.open(name, OpenFlags.O_RDONLY);
        try {
            verifyHandle(fs, fh, f, name + " " + when, mismatches);
        } finally {
            fs.release(fh);
        }
    }

    /** Size and every byte of the file against its shadow. */
    private static void verifyHandle(IomapFs fs, long fh, NsFile f, String what, ConcurrentLinkedQueue<String> mismatches) {
        long size = fs.fgetattr(fh).size();
        if (size != f.size) {
            mismatches.add(what + ": size " + size + " want " + f.size);
            return;
        }
        ByteBuffer bb = ByteBuffer.allocate(f.size + 1);
        int got = fs.read(fh, 0, bb);
        if (got != f.size) {
            mismatches.add(what + ": read " + got + " bytes want " + f.size);
            return;
        }
        int i = java.util.Arrays.mismatch(bb.array(), 0, f.size, f.data, 0, f.size);
        if (i >= 0) {
            mismatches.add(what + ": first mismatch at offset " + i + " got " + bb.get(i) + " want " + f.data[i]);
        }
    }

    /** Closes every held handle and removes every name (and the subdirectory) of one thread. */
    private static void removeAll(IomapFs fs, NsThread me) {
        for (String name : new ArrayList<>(me.names.keySet())) {
            fs.unlink(name);
            dropLink(me, me.names.remove(name));
        }
        for (NsFile f : me.orphans) {
            fs.release(f.held);
        }
        me.orphans.clear();
        if (me.subdir) {
            fs.rmdir(me.root + "/s");
            me.subdir = false;
        }
    }

    private static final java.util.regex.Pattern TRACE_LINE = java.util.regex.Pattern.compile("ino=(\\d+) pos=(-?\\d+) len=(-?\\d+)");
}
