package org.iomapfs.tests;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.mm.MappedRegion;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One deterministic reproduction per seed bug besides stale-iomap (see {@link StaleIomapTest}): the same
 * scenario in buggy and in fixed mode, the interleaving forced at named hook points (a hook runs the racing
 * step to completion on another thread before letting the first one go on), and the symptom checked by content
 * after writeback and a cache drop, plus the bug-fired counter. docs/bugs.md tells each story.
 */
class SeedBugsTest {
    static final int PAGE = 4096;

    @TempDir
    Path dir;
    IomapFs fs;

    IomapFs open(int blockSize, Bug bug, boolean buggy) throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 32L << 20, blockSize, false);
        fs = IomapFs.open(img, EngineConfig.defaults().withWritebackIntervalMs(0));
        fs.controls().write("bugs/" + bug.id, buggy ? "buggy" : "fixed");
        return fs;
    }

    @AfterEach
    void close() {
        if (fs != null) {
            fs.close();
        }
    }

    long fired(Bug b) { return fs.context().bugs.firedCount(b); }

    /** The next buffered copy-in (or fault store) into inode {@code ino} copies nothing; later ones are whole. */
    void failFirstCopyIn(long ino) {
        fs.controls().write("inject/target_ino", Long.toString(ino));
        fs.controls().write("inject/copyin_bytes", "0");
        fs.controls().write("inject/copyin_fail", "1");
        fs.controls().write("inject/nth", "1");
    }

    byte[] readBack(long fh, long pos, int len) {
        fs.controls().write("sync", "1");
        fs.controls().write("drop_caches", "1");
        ByteBuffer b = ByteBuffer.allocate(len);
        fs.read(fh, pos, b);
        return b.array();
    }

    static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed + i * 7 + 1);
        }
        return b;
    }

    /** Runs a step on another thread to completion, from inside a hook of the first one. */
    static void runOnOtherThread(Runnable step) {
        AtomicReference<Throwable> err = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                step.run();
            } catch (Throwable e) {
                err.set(e);
            }
        });
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        if (err.get() != null) {
            throw new IllegalStateException("racing step failed", err.get());
        }
    }

    /**
     * 118e021b4b66: a writepage replayed as a fault over a hole, whose copy of the payload comes up short at
     * its first byte (copyin_fail aimed at the first copy-in). With the buffered-write ops the fault's
     * ->iomap_end punches the delalloc it just reserved under the folio it dirtied; writeback then finds a
     * hole and the page never reaches the disk.
     */
    @ParameterizedTest(name = "buggy={0}")
    @ValueSource(booleans = {false, true})
    void faultWithShortCopyKeepsItsDelalloc(boolean buggy) throws Exception {
        open(4096, Bug.MKWRITE_USES_WRITE_OPS, buggy);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.truncate("/f", PAGE);
        failFirstCopyIn(fs.inodeOf(fh).ino);
        byte[] page = bytes(PAGE, 11);
        assertEquals(PAGE, fs.writePage(fh, 0, ByteBuffer.wrap(page)));
        fs.controls().write("inject/copyin_fail", "0");
        byte[] got = readBack(fh, 0, PAGE);
        if (buggy) {
            assertArrayEquals(new byte[PAGE], got, "the page written through the mapping is lost");
            assertTrue(fired(Bug.MKWRITE_USES_WRITE_OPS) > 0);
        } else {
            assertArrayEquals(page, got);
            assertEquals(0, fired(Bug.MKWRITE_USES_WRITE_OPS));
        }
    }

    /**
     * The fixed side of the same fault with 1 KiB blocks, where the folio spans several extents: a short copy-in
     * in the first mapping must not end the iteration, or the hole further on in the folio would get no delalloc
     * and writeback would skip the stored bytes (found by EngineStressTest with seed 13009952836705).
     */
    @Test
    void faultWithShortCopyStillReservesTheRestOfTheFolio() throws Exception {
        open(1024, Bug.MKWRITE_USES_WRITE_OPS, false);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] first = bytes(1024, 3);
        assertEquals(1024, fs.write(fh, 0, ByteBuffer.wrap(first)));
        fs.truncate("/f", PAGE);
        fs.controls().write("sync", "1");
        failFirstCopyIn(fs.inodeOf(fh).ino);
        byte[] page = bytes(PAGE, 17);
        assertEquals(PAGE, fs.writePage(fh, 0, ByteBuffer.wrap(page)));
        fs.controls().write("inject/copyin_fail", "0");
        assertArrayEquals(page, readBack(fh, 0, PAGE));
        assertEquals(0, fired(Bug.MKWRITE_USES_WRITE_OPS));
    }

    /**
     * generic/346's shape, f43dc4dc3eff / 198dd8aedee6: a pwrite of a marker into a hole reserves delalloc,
     * its copy fails; before its ->iomap_end runs, a store through a shared mapping puts another marker into
     * the same folio. The old cleanup truncated the folio (dirty, holding the mmap marker) and punched the
     * block; the write's retry then starts from a fresh zeroed folio.
     */
    @ParameterizedTest(name = "buggy={0}")
    @ValueSource(booleans = {false, true})
    void failedWriteKeepsAMappedStoreInTheSameFolio(boolean buggy) throws Exception {
        open(4096, Bug.PUNCH_TRUNCATES_PAGECACHE, buggy);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.truncate("/f", 2 * PAGE);
        Inode in = fs.inodeOf(fh);
        MappedRegion map = fs.mm().map(fh, 0, 2 * PAGE);
        byte[] mmapMarker = bytes(8, 3);
        byte[] writeMarker = bytes(8, 5);
        failFirstCopyIn(in.ino);
        AtomicBoolean first = new AtomicBoolean(true);
        fs.context().hooks.add(HookPoint.WRITE_BEFORE_END, (p, inode, pos) -> {
            if (inode == in && first.getAndSet(false)) {
                runOnOtherThread(() -> map.store(2000, mmapMarker, 0, 8));
            }
        });
        assertEquals(8, fs.write(fh, 100, ByteBuffer.wrap(writeMarker)));
        byte[] got = readBack(fh, 0, PAGE);
        assertArrayEquals(writeMarker, Arrays.copyOfRange(got, 100, 108));
        if (buggy) {
            assertArrayEquals(new byte[8], Arrays.copyOfRange(got, 2000, 2008), "the mmap marker is lost");
            assertTrue(fired(Bug.PUNCH_TRUNCATES_PAGECACHE) > 0);
        } else {
            assertArrayEquals(mmapMarker, Arrays.copyOfRange(got, 2000, 2008));
            assertEquals(0, fired(Bug.PUNCH_TRUNCATES_PAGECACHE));
        }
    }

    /**
     * e9c3a8e820ed (the cause of Wilcox's 2020 report): a mapped page fails writeback at submission; the old
     * error path left the folio mapped but not uptodate, so the next store's page_mkwrite dirtied a
     * !uptodate folio (WARN), and the next read re-read the disk over the stored bytes.
     */
    @ParameterizedTest(name = "buggy={0}")
    @ValueSource(booleans = {false, true})
    void storeAfterWritebackErrorSurvives(boolean buggy) throws Exception {
        open(4096, Bug.MKWRITE_NOT_UPTODATE, buggy);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.truncate("/f", PAGE);
        MappedRegion map = fs.mm().map(fh, 0, PAGE);
        byte[] first = bytes(100, 1);
        byte[] second = bytes(100, 2);
        map.store(0, first, 0, 100);
        fs.controls().write("inject/target_ino", Long.toString(fs.inodeOf(fh).ino));
        fs.controls().write("inject/nth", "1");
        fs.controls().write("inject/wb_submit_eio", "1");
        FsException e = assertThrows(FsException.class, () -> fs.fsync(fh, false));
        assertEquals(Errno.EIO, e.errno());
        fs.controls().write("inject/wb_submit_eio", "0");
        map.store(1000, second, 0, 100);
        ByteBuffer now = ByteBuffer.allocate(PAGE);
        fs.read(fh, 0, now);
        if (buggy) {
            assertArrayEquals(new byte[100], Arrays.copyOfRange(now.array(), 1000, 1100), "the second store was read over");
            assertTrue(fired(Bug.MKWRITE_NOT_UPTODATE) > 0);
        } else {
            assertArrayEquals(second, Arrays.copyOfRange(now.array(), 1000, 1100));
            assertArrayEquals(first, Arrays.copyOfRange(now.array(), 0, 100));
            fs.fsync(fh, false);
            byte[] disk = readBack(fh, 0, PAGE);
            assertArrayEquals(second, Arrays.copyOfRange(disk, 1000, 1100));
            assertArrayEquals(first, Arrays.copyOfRange(disk, 0, 100));
            assertEquals(0, fired(Bug.MKWRITE_NOT_UPTODATE));
        }
        map.close();
    }

    /**
     * Jan Kara's 2018 race: a direct read into a shared mapping pins the page; writeback cleans it and reclaim
     * runs before the I/O completes. Old reclaim freed the pinned folio's per-block state, so completion
     * redirtied a folio without state and writeback met it (WARN). With pins honoured, reclaim leaves it.
     */
    @ParameterizedTest(name = "buggy={0}")
    @ValueSource(booleans = {false, true})
    void directReadIntoPinnedMappingKeepsFolioState(boolean buggy) throws Exception {
        open(1024, Bug.GUP_DIRTY_WITHOUT_STATE, buggy);
        long dst = fs.create("/dst", 0644, OpenFlags.O_RDWR, 0, 0);
        long src = fs.create("/src", 0644, OpenFlags.O_RDWR | OpenFlags.O_DIRECT, 0, 0);
        byte[] a = bytes(PAGE, 7);
        byte[] b = bytes(PAGE, 9);
        fs.write(dst, 0, ByteBuffer.wrap(a));
        fs.write(src, 0, ByteBuffer.wrap(b));
        fs.fsync(dst, false);
        MappedRegion map = fs.mm().map(dst, 0, PAGE);
        Inode dstInode = fs.inodeOf(dst);
        AtomicBoolean once = new AtomicBoolean(true);
        fs.context().hooks.add(HookPoint.DIO_PAGES_PINNED, (p, inode, pos) -> {
            if (inode == dstInode && once.getAndSet(false)) {
                fs.controls().write("sync", "1");
                fs.controls().write("drop_caches", "1");
            }
        });
        assertEquals(PAGE, fs.mm().read(src, 0, map, 0, PAGE));
        fs.controls().write("sync", "1");
        assertArrayEquals(b, readBack(dst, 0, PAGE));
        if (buggy) {
            assertTrue(fired(Bug.GUP_DIRTY_WITHOUT_STATE) > 0, "writeback met the redirtied folio without state");
        } else {
            assertEquals(0, fired(Bug.GUP_DIRTY_WITHOUT_STATE));
        }
        map.close();
    }

    /**
     * gfs2's deadlock (00bfe02f4796) in iomap terms: a write whose source buffer maps the very folio it writes
     * to. Copying with page faults enabled faults on a folio this write holds locked (a wait that can never
     * end, reported as EDEADLK); copying with faults disabled comes up short, the source is faulted in outside
     * the lock, and the write completes.
     */
    @ParameterizedTest(name = "buggy={0}")
    @ValueSource(booleans = {false, true})
    void writeFromAMappingOfTheSameFolio(boolean buggy) throws Exception {
        open(4096, Bug.FAULT_IN_DEADLOCK, buggy);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] data = bytes(2 * PAGE, 13);
        fs.write(fh, 0, ByteBuffer.wrap(data));
        fs.controls().write("sync", "1");
        fs.controls().write("drop_caches", "1");
        MappedRegion map = fs.mm().map(fh, 0, 2 * PAGE);
        byte[] want = data.clone();
        System.arraycopy(data, 0, want, 100, 200);
        if (buggy) {
            FsException e = assertThrows(FsException.class, () -> fs.mm().write(fh, 100, map, 0, 200));
            assertEquals(Errno.EDEADLK, e.errno());
            assertTrue(fired(Bug.FAULT_IN_DEADLOCK) > 0);
            assertArrayEquals(data, readBack(fh, 0, 2 * PAGE), "nothing was written");
        } else {
            assertEquals(200, fs.mm().write(fh, 100, map, 0, 200));
            assertArrayEquals(want, readBack(fh, 0, 2 * PAGE));
            assertEquals(0, fired(Bug.FAULT_IN_DEADLOCK));
        }
        map.close();
    }
}
