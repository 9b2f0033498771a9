package org.iomapfs.tests;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.mm.MappedRegion;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Randomised soaks of the bugs a mount can reach, with the injections that expose them and no hooks: the same
 * seeded workload in buggy and in fixed mode. Buggy mode must show corruption within the bounded run and fixed
 * mode none; the figures are printed. Statistical: the rounds are sized so that a buggy run without a single
 * corruption is far below one in a thousand on 2 cores (see docs/bugs.md). -Dsoak.seed replays a seed.
 */
class BugSoakTest {
    static final int PAGE = 4096;
    static final long SEED = Long.getLong("soak.seed", System.nanoTime());

    @TempDir
    Path dir;

    record Result(int rounds, long checked, long corrupted, long fired, long millis) { }

    IomapFs open(String name, long writebackMs) throws Exception {
        Path img = dir.resolve(name);
        Mkfs.format(img, 64L << 20, 4096, false);
        return IomapFs.open(img, EngineConfig.defaults().withWritebackIntervalMs(writebackMs));
    }

    static byte[] marker(long seed, int round, int page, int kind) {
        byte[] m = new byte[8];
        ByteBuffer.wrap(m).putInt(round * 1000 + page).putShort((short) kind).putShort((short) (seed ^ page));
        return m;
    }

    static void report(String bug, boolean buggy, Result r) {
        System.out.printf("soak %-26s %-5s seed=%d rounds=%d checked=%d corrupted=%d fired=%d %d ms%n", bug,
                buggy ? "buggy" : "fixed", SEED, r.rounds, r.checked, r.corrupted, r.fired, r.millis);
    }

    void assertBothWays(String bug, Result buggy, Result fixed) {
        report(bug, true, buggy);
        report(bug, false, fixed);
        assertEquals(0, fixed.corrupted, bug + ": fixed mode corrupted data (seed " + SEED + ")");
        assertEquals(0, fixed.fired, bug + ": fixed mode fired the bug");
        assertTrue(buggy.corrupted > 0, bug + ": buggy mode found no corruption in " + buggy.rounds + " rounds (seed " + SEED + ")");
        assertTrue(buggy.fired > 0);
    }

    /**
     * generic/346 in process: per round a fresh sparse file; a writer pwrites a marker into each page (slow
     * after ->iomap_begin, copy-ins failing at random) while a mapper stores another marker into the same page
     * just after the writer reached it.
     */
    Result pwriteVersusMmap(boolean buggy, int rounds) throws Exception {
        IomapFs fs = open("punch-" + buggy, 50);
        long t0 = System.currentTimeMillis();
        long corrupted = 0;
        long checked = 0;
        try {
            fs.controls().write("bugs/" + Bug.PUNCH_TRUNCATES_PAGECACHE.id, buggy ? "buggy" : "fixed");
            fs.controls().write("inject/seed", Long.toString(SEED));
            fs.controls().write("inject/write_delay_ms", "2");
            fs.controls().write("inject/copyin_fail", "0.5");
            fs.controls().write("inject/copyin_bytes", "0");
            int pages = 16;
            Random rnd = new Random(SEED);
            for (int round = 0; round < rounds; round++) {
                String path = "/h" + round;
                long fh = fs.create(path, 0644, OpenFlags.O_RDWR, 0, 0);
                fs.truncate(path, (long) pages * PAGE);
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < pages; i++) {
                    order.add(i);
                }
                Collections.shuffle(order, rnd);
                AtomicInteger reached = new AtomicInteger(-1);
                AtomicReference<Throwable> err = new AtomicReference<>();
                MappedRegion map = fs.mm().map(fh, 0, pages * PAGE);
                int r = round;
                Thread mapper = new Thread(() -> {
                    try {
                        for (int i = 0; i < pages; i++) {
                            while (reached.get() < i) {
                                Thread.onSpinWait();
                            }
                            int p = order.get(i);
                            map.store(p * PAGE + 2048, marker(SEED, r, p, 2), 0, 8);
                        }
                    } catch (Throwable t) {
                        err.set(t);
                    }
                });
                mapper.start();
                for (int i = 0; i < pages; i++) {
                    int p = order.get(i);
                    reached.set(i);
                    fs.write(fh, (long) p * PAGE + 64, ByteBuffer.wrap(marker(SEED, round, p, 1)));
                }
                mapper.join();
                assertNull(err.get());
                map.close();
                fs.controls().write("sync", "1");
                fs.controls().write("drop_caches", "1");
                ByteBuffer all = ByteBuffer.allocate(pages * PAGE);
                fs.read(fh, 0, all);
                for (int p = 0; p < pages; p++) {
                    checked += 2;
                    if (!java.util.Arrays.equals(all.array(), p * PAGE + 64, p * PAGE + 72, marker(SEED, round, p, 1), 0, 8)) {
                        corrupted++;
                    }
                    if (!java.util.Arrays.equals(all.array(), p * PAGE + 2048, p * PAGE + 2056, marker(SEED, round, p, 2), 0, 8)) {
                        corrupted++;
                    }
                }
                fs.release(fh);
                fs.unlink(path);
            }
            return new Result(rounds, checked, corrupted, fs.context().bugs.firedCount(Bug.PUNCH_TRUNCATES_PAGECACHE),
                    System.currentTimeMillis() - t0);
        } finally {
            fs.close();
        }
    }

    @Test
    void punchTruncatesPagecacheLosesMmapMarkersOnlyWhenBuggy() throws Exception {
        assertBothWays("punch-truncates-pagecache", pwriteVersusMmap(true, 30), pwriteVersusMmap(false, 30));
    }

    /** Writepages of random pages of sparse files, with copy-ins of the fault path failing at random. */
    Result writepages(boolean buggy, int pages) throws Exception {
        IomapFs fs = open("mkwrite-" + buggy, 50);
        long t0 = System.currentTimeMillis();
        try {
            fs.controls().write("bugs/" + Bug.MKWRITE_USES_WRITE_OPS.id, buggy ? "buggy" : "fixed");
            fs.controls().write("inject/seed", Long.toString(SEED));
            fs.controls().write("inject/copyin_fail", "0.2");
            fs.controls().write("inject/copyin_bytes", "0");
            long fh = fs.create("/w", 0644, OpenFlags.O_RDWR, 0, 0);
            fs.truncate("/w", (long) pages * PAGE);
            Random rnd = new Random(SEED);
            byte[][] want = new byte[pages][];
            for (int i = 0; i < pages * 2; i++) {
                int p = rnd.nextInt(pages);
                byte[] page = new byte[PAGE];
                rnd.nextBytes(page);
                fs.writePage(fh, (long) p * PAGE, ByteBuffer.wrap(page));
                want[p] = page;
            }
            fs.controls().write("sync", "1");
            fs.controls().write("drop_caches", "1");
            long corrupted = 0;
            for (int p = 0; p < pages; p++) {
                ByteBuffer got = ByteBuffer.allocate(PAGE);
                fs.read(fh, (long) p * PAGE, got);
                if (!java.util.Arrays.equals(got.array(), want[p] == null ? new byte[PAGE] : want[p])) {
                    corrupted++;
                }
            }
            return new Result(1, pages, corrupted, fs.context().bugs.firedCount(Bug.MKWRITE_USES_WRITE_OPS),
                    System.currentTimeMillis() - t0);
        } finally {
            fs.close();
        }
    }

    @Test
    void mkwriteUsesWriteOpsLosesWritepagesOnlyWhenBuggy() throws Exception {
        assertBothWays("mkwrite-uses-write-ops", writepages(true, 256), writepages(false, 256));
    }

    /**
     * xfs/559 without a latch: per round, 10 preallocated pages, the last byte dirtied, then a 9-page-plus-one-byte
     * pwrite delayed after ->iomap_begin while the flusher writes back and reclaim evicts every clean folio.
     */
    Result slowWriteUnderReclaim(boolean buggy, int rounds) throws Exception {
        IomapFs fs = open("stale-" + buggy, 2);
        long t0 = System.currentTimeMillis();
        long corrupted = 0;
        try {
            fs.controls().write("bugs/" + Bug.STALE_IOMAP.id, buggy ? "buggy" : "fixed");
            fs.controls().write("inject/reclaim_every_ms", "2");
            Random rnd = new Random(SEED);
            for (int round = 0; round < rounds; round++) {
                String path = "/s" + round;
                long fh = fs.create(path, 0644, OpenFlags.O_RDWR, 0, 0);
                fs.fallocate(fh, 0, 0, 10 * PAGE);
                byte last = (byte) (rnd.nextInt(255) + 1);
                fs.write(fh, 10 * PAGE - 1, ByteBuffer.wrap(new byte[]{last}));
                byte[] data = new byte[9 * PAGE + 1];
                rnd.nextBytes(data);
                fs.controls().write("inject/target_ino", Long.toString(fs.inodeOf(fh).ino));
                fs.controls().write("inject/write_delay_ms", "40");
                fs.write(fh, 0, ByteBuffer.wrap(data));
                fs.controls().write("inject/write_delay_ms", "0");
                fs.controls().write("sync", "1");
                fs.controls().write("drop_caches", "1");
                ByteBuffer got = ByteBuffer.allocate(10 * PAGE);
                fs.read(fh, 0, got);
                byte[] want = new byte[10 * PAGE];
                System.arraycopy(data, 0, want, 0, data.length);
                want[10 * PAGE - 1] = last;
                if (!java.util.Arrays.equals(got.array(), want)) {
                    corrupted++;
                }
                fs.release(fh);
                fs.unlink(path);
            }
            return new Result(rounds, rounds, corrupted, fs.context().bugs.firedCount(Bug.STALE_IOMAP),
                    System.currentTimeMillis() - t0);
        } finally {
            fs.close();
        }
    }

    @Test
    void staleIomapZeroesTheLastPageOnlyWhenBuggy() throws Exception {
        assertBothWays("stale-iomap", slowWriteUnderReclaim(true, 20), slowWriteUnderReclaim(false, 20));
    }
}
