package org.iomapfs.tests;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.store.Fsck;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 10's deadlock, one deterministic interleaving per way a file's last reference can go while its folios are
 * under writeback: unlink, rename over it, and the last close of an open-unlinked file.
 *
 * <p>The kernel frees an inode in iput_final -> evict -> truncate_inode_pages_final, after the last reference
 * is dropped, holding no directory lock and no transaction: truncate_inode_pages_range waits for writeback
 * (folio_wait_writeback), and I/O completion (xfs_end_ioend: unwritten conversion in its own transaction) must
 * be able to run meanwhile. The scenario: the I/O completion worker is held at {@link HookPoint#IOEND_DONE} of
 * another file's ioend, inside its batch and just before it commits the batch; the victim's folios are under
 * writeback and their ioend is queued behind that batch; the namespace operation starts and parks waiting for
 * that writeback; only then is the worker let go. If the waiting thread holds the shared side of the metadata
 * transaction lock, the worker's commit waits for it forever and never reaches the victim's ioend. While the
 * eviction waits, a getattr of an unrelated file must not wait with it (the namespace lock is not held across
 * eviction, or one slow writeback stops every lookup on the mount).
 *
 * <p>Every wait is bounded: a deadlock fails the test with the stacks of the threads involved, and the wedged
 * engine is abandoned (its threads are daemons) instead of closed.
 */
class EvictUnderWritebackTest {
    static final int PAGE = 4096;
    static final int FILE_PAGES = 16;
    static final long BOUND_S = 10;

    @TempDir
    Path dir;
    Path img;
    IomapFs fs;
    /** Lets every latched hook go, whatever the test's outcome. */
    final CountDownLatch releaseCompletion = new CountDownLatch(1);
    /** Set when a bounded wait found the engine deadlocked: it is abandoned, not closed. */
    volatile boolean wedged;
    /** The I/O completion worker, seen from its hook. */
    volatile Thread completer;

    @AfterEach
    void cleanup() throws Exception {
        releaseCompletion.countDown();
        if (fs == null) {
            return;
        }
        if (wedged) {
            fs.crashForTest();
            return;
        }
        Thread closer = daemon("close", fs::close);
        closer.join(TimeUnit.SECONDS.toMillis(BOUND_S));
        if (closer.isAlive()) {
            // the engine is deadlocked; its threads stay parked, but the image is released
            fs.crashForTest();
        }
    }

    /** No background writeback and no periodic commit: both happen only where the scenario makes them. */
    void open() {
        img = dir.resolve("img");
        Mkfs.format(img, 32L << 20, 4096, false);
        EngineConfig d = EngineConfig.defaults();
        fs = IomapFs.open(img, new EngineConfig(d.cacheBytes(), 0, d.dirtyThresholdFolios(), d.readaheadFolios(),
                TimeUnit.HOURS.toMillis(1), d.registry(), d.traceEvents()));
        freeAtStart = fs.statfs().availBlocks();
    }

    long freeAtStart;

    static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed + i * 13 + 1);
        }
        return b;
    }

    long writeFile(String path, int seed) {
        long fh = fs.create(path, 0644, OpenFlags.O_RDWR, 0, 0);
        assertEquals(FILE_PAGES * PAGE, fs.write(fh, 0, ByteBuffer.wrap(bytes(FILE_PAGES * PAGE, seed))));
        return fh;
    }

    byte[] read(String path) {
        long fh = fs.open(path, OpenFlags.O_RDONLY);
        try {
            ByteBuffer b = ByteBuffer.allocate(FILE_PAGES * PAGE + 1);
            b.limit(fs.read(fh, 0, b));
            return Arrays.copyOf(b.array(), b.limit());
        } finally {
            fs.release(fh);
        }
    }

    @Test
    void unlinkOfAFileUnderWritebackFinishes() throws Exception {
        open();
        long fh = writeFile("/victim", 1);
        fs.release(fh);
        evictUnderWriteback(fs.inode("/victim"), "unlink", () -> fs.unlink("/victim"));
        assertThrows(org.iomapfs.core.api.FsException.class, () -> fs.getattr("/victim"));
        assertNoLeakAndFsckClean(1);
    }

    @Test
    void renameOverAFileUnderWritebackFinishes() throws Exception {
        open();
        long nfh = writeFile("/new", 7);
        fs.release(nfh);
        fs.sync();
        long fh = writeFile("/victim", 1);
        fs.release(fh);
        evictUnderWriteback(fs.inode("/victim"), "rename over", () -> fs.rename("/new", "/victim"));
        assertArrayEquals(bytes(FILE_PAGES * PAGE, 7), read("/victim"), "the renamed file keeps its bytes");
        assertNoLeakAndFsckClean(2);
    }

    @Test
    void lastCloseOfAnOpenUnlinkedFileUnderWritebackFinishes() throws Exception {
        open();
        long fh = writeFile("/victim", 1);
        Inode victim = fs.inodeOf(fh);
        fs.unlink("/victim");
        evictUnderWriteback(victim, "last close of an open-unlinked file", () -> fs.release(fh));
        assertNoLeakAndFsckClean(1);
    }

    /**
     * Eviction waits for the writeback in flight, not for the rest of the file: background writeback stops
     * starting folios of an inode being freed (writeback_sb_inodes skips I_FREEING; evict() waits only for the
     * chunk in flight). The flusher is held while mapping the third folio, the unlink starts eviction, then the
     * flusher goes on: it must map no later folio. Single-page folios, so that the third block is the third folio
     * (in one large folio the blocks after it belong to the folio in flight).
     */
    @Test
    void unlinkWaitsOnlyForTheWritebackAlreadyStarted() throws Exception {
        open();
        fs.controls().write("max_folio_order", "0");
        long fh = writeFile("/victim", 1);
        fs.release(fh);
        Inode victim = fs.inode("/victim");
        CountDownLatch atThird = new CountDownLatch(1);
        java.util.List<Long> mapped = new java.util.concurrent.CopyOnWriteArrayList<>();
        fs.context().hooks.add(HookPoint.WB_MAPPED, (p, inode, pos) -> {
            if (inode != victim) {
                return;
            }
            mapped.add(pos);
            if (pos == 2 * PAGE) {
                atThird.countDown();
                await(releaseCompletion, "the test never let the flusher go");
            }
        });
        FutureTask<Void> flush = new FutureTask<>(() -> fs.writeback().writepages(victim, 0, Long.MAX_VALUE, false), null);
        daemon("flusher", flush);
        assertTrue(atThird.await(BOUND_S, TimeUnit.SECONDS), "writeback never reached the third folio");
        FutureTask<Void> unlink = new FutureTask<>(() -> fs.unlink("/victim"), null);
        Thread u = daemon("unlink", unlink);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
        while (!victim.isFreeing() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertTrue(victim.isFreeing(), "the unlink never began evicting /victim\n" + stacks(u));
        releaseCompletion.countDown();
        try {
            flush.get(BOUND_S, TimeUnit.SECONDS);
            unlink.get(BOUND_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            wedged = true;
            fail("unlink or writeback did not finish within " + BOUND_S + " s\n" + stacks(u));
        }
        assertEquals(java.util.List.of(0L, (long) PAGE, 2L * PAGE), mapped,
                "after eviction began, background writeback started no further folio of the dying file");
        assertNoLeakAndFsckClean(0);
    }

    /**
     * Writes /other, gets the worker held inside /other's completion batch, puts /victim's folios under
     * writeback with their ioend queued behind it, runs {@code op} (which drops /victim's last reference) on
     * its own thread until it finishes or parks, checks that a getattr is not stuck behind it, then lets the
     * worker go and requires {@code op} and /victim's writeback to finish within {@link #BOUND_S}.
     */
    void evictUnderWriteback(Inode victim, String what, Runnable op) throws Exception {
        long ofh = writeFile("/other", 3);
        fs.release(ofh);
        Inode other = fs.inode("/other");
        CountDownLatch completionHeld = new CountDownLatch(1);
        CountDownLatch victimWritebackEnded = new CountDownLatch(1);
        AtomicBoolean first = new AtomicBoolean(true);
        fs.context().hooks.add(HookPoint.IOEND_DONE, (p, inode, pos) -> {
            if (inode == victim) {
                victimWritebackEnded.countDown();
            } else if (inode == other && first.getAndSet(false)) {
                completer = Thread.currentThread();
                completionHeld.countDown();
                await(releaseCompletion, "the test never let the I/O completion worker go");
            }
        });
        fs.writeback().writepages(other, 0, Long.MAX_VALUE, false);
        assertTrue(completionHeld.await(BOUND_S, TimeUnit.SECONDS), "/other's ioend never reached I/O completion");
        fs.writeback().writepages(victim, 0, Long.MAX_VALUE, false);
        assertTrue(victim.mapping.find(0).isWriteback(), "/victim's first folio is under writeback");

        FutureTask<Void> task = new FutureTask<>(op, null);
        Thread t = daemon(what, task);
        String parkedAt = awaitParkedOrDone(t);

        FutureTask<Object> getattr = new FutureTask<>(() -> fs.getattr("/other"));
        daemon("getattr", getattr);
        String getattrStuck = null;
        try {
            getattr.get(BOUND_S / 2, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            getattrStuck = "getattr of /other waited behind the " + what + " of /victim while it waited for writeback"
                    + " (parked at " + parkedAt + "): the namespace lock is held across eviction\n" + stacks(t, completer);
        }

        releaseCompletion.countDown();
        try {
            task.get(BOUND_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            wedged = true;
            fail(what + " of a file under writeback did not finish within " + BOUND_S + " s: eviction waits for"
                    + " writeback (parked at " + parkedAt + ") while holding a lock the I/O completion worker needs to"
                    + " commit its batch, so the ioend that would end that writeback is never run (issue 10)"
                    + (getattrStuck != null ? "; and " + getattrStuck.lines().findFirst().orElse("") : "")
                    + "\n" + stacks(t, completer));
        } catch (ExecutionException e) {
            throw new AssertionError(what + " failed", e.getCause());
        }
        assertTrue(victimWritebackEnded.await(BOUND_S, TimeUnit.SECONDS), "/victim's writeback never ended");
        getattr.get(BOUND_S, TimeUnit.SECONDS);
        assertNull(getattrStuck, getattrStuck);
        assertArrayEquals(bytes(FILE_PAGES * PAGE, 3), read("/other"), "/other keeps its bytes");
    }

    /** /victim's blocks are free again once committed: only the {@code kept} files that remain hold blocks. */
    void assertNoLeakAndFsckClean(int kept) throws Exception {
        fs.sync();
        assertEquals(freeAtStart - (long) kept * FILE_PAGES, fs.statfs().availBlocks(),
                "free blocks after sync: /victim's " + FILE_PAGES + " came back");
        fs.close();
        var report = Fsck.check(img);
        assertTrue(report.clean(), "fsck: " + report.problems());
    }

    static void await(CountDownLatch l, String what) {
        try {
            if (!l.await(BOUND_S * 3, TimeUnit.SECONDS)) {
                throw new IllegalStateException(what);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static Thread daemon(String name, Runnable r) {
        Thread t = new Thread(r, "test-" + name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Waits until {@code t} has finished or is parked (waiting or blocked), and says where. No hook point lies
     * between taking the namespace and transaction locks and the wait for writeback, so the thread's state is
     * observed instead; nothing is forced by the poll.
     */
    static String awaitParkedOrDone(Thread t) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
        while (System.nanoTime() < deadline) {
            Thread.State s = t.getState();
            if (s == Thread.State.TERMINATED) {
                return "nothing: it finished";
            }
            if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING || s == Thread.State.BLOCKED) {
                for (StackTraceElement e : t.getStackTrace()) {
                    if (e.getClassName().startsWith("org.iomapfs.")) {
                        return e.getClassName().substring(e.getClassName().lastIndexOf('.') + 1) + "." + e.getMethodName();
                    }
                }
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        return "nothing within " + BOUND_S + " s: it kept running";
    }

    /** The stacks of the threads, to show what each waits for. */
    static String stacks(Thread... threads) {
        StringBuilder sb = new StringBuilder();
        for (Thread th : threads) {
            ThreadStacks.append(sb, th, th.getStackTrace());
        }
        return sb.toString();
    }
}
