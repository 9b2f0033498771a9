package org.iomapfs.core;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.api.Whence;
import org.iomapfs.core.extent.Extent;
import org.iomapfs.core.extent.ExtentType;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

class EngineTest {
    @TempDir
    Path dir;
    IomapFs fs;

    IomapFs mount(int blockSize, long size) {
        Path img = dir.resolve("img");
        Mkfs.format(img, size, blockSize, true);
        fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(1 << 20).withWritebackIntervalMs(0));
        return fs;
    }

    @AfterEach
    void close() {
        if (fs != null) {
            fs.close();
        }
    }

    static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(IomapFs fs, long fh, long pos, int len) {
        ByteBuffer bb = ByteBuffer.allocate(len);
        int n = fs.read(fh, pos, bb);
        return Arrays.copyOf(bb.array(), n);
    }

    static void write(IomapFs fs, long fh, long pos, byte[] data) {
        assertEquals(data.length, fs.write(fh, pos, ByteBuffer.wrap(data)));
    }

    /** Drops the page cache so reads come from the image. */
    static void dropCache(IomapFs fs) {
        fs.dropCaches();
    }

    @ParameterizedTest
    @ValueSource(ints = {512, 1024, 4096})
    void writesStraddlingFoliosAndBlocksReadBackFromCacheAndImage(int bs) {
        mount(bs, 64 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern(10_000, 1);
        write(fs, fh, 3000, a);
        assertArrayEquals(a, read(fs, fh, 3000, a.length));
        assertArrayEquals(new byte[3000], read(fs, fh, 0, 3000), "gap before the first write reads as zeroes");
        fs.fsync(fh, false);
        dropCache(fs);
        assertArrayEquals(a, read(fs, fh, 3000, a.length));
        assertEquals(13_000, fs.fgetattr(fh).size());
    }

    @Test
    void subBlockWritesOn512ByteBlocksKeepNeighbouringBytes() {
        mount(512, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] base = pattern(8192, 2);
        write(fs, fh, 0, base);
        fs.fsync(fh, false);
        dropCache(fs);
        byte[] small = pattern(100, 3);
        write(fs, fh, 700, small);
        System.arraycopy(small, 0, base, 700, 100);
        assertArrayEquals(base, read(fs, fh, 0, 8192));
        fs.fsync(fh, false);
        dropCache(fs);
        assertArrayEquals(base, read(fs, fh, 0, 8192), "partial block was read from disk, not zeroed");
    }

    @Test
    void truncateIntoTheMiddleOfABlockZeroesTheTailOnExtension() {
        mount(1024, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern(6000, 4);
        write(fs, fh, 0, a);
        fs.fsync(fh, false);
        fs.ftruncate(fh, 2500);
        assertEquals(2500, fs.fgetattr(fh).size());
        fs.ftruncate(fh, 6000);
        byte[] expect = new byte[6000];
        System.arraycopy(a, 0, expect, 0, 2500);
        assertArrayEquals(expect, read(fs, fh, 0, 6000));
        fs.fsync(fh, false);
        dropCache(fs);
        assertArrayEquals(expect, read(fs, fh, 0, 6000), "bytes past the old EOF were zeroed on the image too");
    }

    @Test
    void punchOfADirtyRangeZeroesItAndFreesWholeBlocks() {
        mount(4096, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern(64 * 1024, 5);
        write(fs, fh, 0, a);
        long freeBefore = fs.statfs().freeBlocks();
        fs.fallocate(fh, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, 5000, 20_000);
        Arrays.fill(a, 5000, 25_000, (byte) 0);
        assertArrayEquals(a, read(fs, fh, 0, a.length));
        assertEquals(64 * 1024, fs.fgetattr(fh).size());
        assertTrue(fs.statfs().freeBlocks() > freeBefore, "punched delalloc released its reservation");
        fs.fsync(fh, false);
        dropCache(fs);
        assertArrayEquals(a, read(fs, fh, 0, a.length));
        assertEquals(8192, fs.lseek(fh, 5000, Whence.SEEK_HOLE), "first whole hole block");
        assertEquals(24_576, fs.lseek(fh, 8192, Whence.SEEK_DATA));
    }

    @Test
    void enospcIsReportedAtWriteTimeWithReservationsAndNothingIsLost() {
        mount(4096, 1 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        long free = fs.statfs().freeBlocks();
        byte[] fits = pattern((int) (free - 2) * 4096, 6);
        write(fs, fh, 0, fits);
        FsException e = assertThrows(FsException.class,
                () -> fs.write(fh, fits.length, ByteBuffer.wrap(new byte[3 * 4096])));
        assertEquals(Errno.ENOSPC, e.errno());
        fs.fsync(fh, false);
        dropCache(fs);
        assertArrayEquals(fits, read(fs, fh, 0, fits.length), "reserved data reached the image at writeback");
    }

    @Test
    void holesAndUnwrittenExtentsReadAsZeroes() {
        mount(4096, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.fallocate(fh, 0, 0, 32_768);
        Inode in = fs.inodeOf(fh);
        in.dataFork.ilock.readLock().lock();
        try {
            List<Extent> all = in.dataFork.all();
            assertEquals(ExtentType.UNWRITTEN, all.get(0).type());
        } finally {
            in.dataFork.ilock.readLock().unlock();
        }
        assertArrayEquals(new byte[32_768], read(fs, fh, 0, 32_768));
        fs.ftruncate(fh, 100_000);
        assertArrayEquals(new byte[1000], read(fs, fh, 60_000, 1000), "hole past the preallocation");
        // Uptodate cached folios over unwritten extents count as data (mapping_seek_hole_data); once they
        // are dropped, the preallocated range and the hole behind it are both holes.
        dropCache(fs);
        assertEquals(Errno.ENXIO, assertThrows(FsException.class, () -> fs.lseek(fh, 0, Whence.SEEK_DATA)).errno());
        assertEquals(0, fs.lseek(fh, 0, Whence.SEEK_HOLE));
    }

    @Test
    void mkwriteStoreDirtiesAWholeFolioAndWritebackConvertsToWritten() {
        mount(1024, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.ftruncate(fh, 8192);
        byte[] st = pattern(4096, 7);
        assertEquals(4096, fs.writePage(fh, 4096, ByteBuffer.wrap(st)));
        fs.fsync(fh, false);
        Inode in = fs.inodeOf(fh);
        in.dataFork.ilock.readLock().lock();
        try {
            Extent e = in.dataFork.find(4);
            assertEquals(ExtentType.WRITTEN, e.type());
        } finally {
            in.dataFork.ilock.readLock().unlock();
        }
        dropCache(fs);
        assertArrayEquals(st, read(fs, fh, 4096, 4096));
    }

    @Test
    void directIoMixedWithBufferedIoSeesTheSameBytes() {
        mount(4096, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        long dfh = fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        byte[] a = pattern(16_384, 8);
        write(fs, fh, 0, a);
        assertArrayEquals(a, read(fs, dfh, 0, 16_384), "direct read flushed the dirty cache first");
        byte[] b = pattern(8192, 9);
        write(fs, dfh, 4096, b);
        System.arraycopy(b, 0, a, 4096, 8192);
        assertArrayEquals(a, read(fs, fh, 0, 16_384), "buffered read after direct write sees it");
        assertThrows(FsException.class, () -> fs.write(dfh, 100, ByteBuffer.wrap(new byte[512])));
    }

    /**
     * fstests generic/451 in the engine: a buffered read that runs after a direct write invalidated the page
     * cache and before its data reaches the image caches the old blocks; the write must drop them when it
     * completes (iomap_dio_complete -> kiocb_invalidate_post_direct_write), or later buffered reads see them.
     */
    @Test
    void bufferedReadRacingADirectWriteLeavesNoStaleFolios() throws Exception {
        mount(4096, 16 << 20);
        int len = 128 << 10;
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        long dfh = fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        byte[] old = pattern(len, 1);
        byte[] neu = pattern(len, 2);
        write(fs, dfh, 0, old);
        Inode inode = fs.inodeOf(fh);
        AtomicBoolean once = new AtomicBoolean(true);
        AtomicReference<byte[]> racing = new AtomicReference<>();
        fs.context().hooks.add(HookPoint.DIO_INVALIDATED, (p, in, pos) -> {
            if (in == inode && once.getAndSet(false)) {
                Thread reader = new Thread(() -> racing.set(read(fs, fh, 0, len)), "racing-buffered-read");
                reader.start();
                try {
                    reader.join();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        write(fs, dfh, 0, neu);
        assertArrayEquals(old, racing.get(), "the racing read ran between the invalidation and the I/O");
        assertArrayEquals(neu, read(fs, fh, 0, len), "a buffered read after the direct write completed");
    }

    @Test
    void fsyncReportsACompletionErrorOncePerOpenFile() {
        mount(4096, 16 << 20);
        long fh1 = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        long fh2 = fs.open("/f", OpenFlags.O_RDWR);
        fs.context().hooks.setWbCompleteFault((inode, pos) -> true);
        write(fs, fh1, 0, pattern(4096, 10));
        FsException e = assertThrows(FsException.class, () -> fs.fsync(fh1, false));
        assertEquals(Errno.EIO, e.errno());
        fs.fsync(fh1, false);
        assertThrows(FsException.class, () -> fs.fsync(fh2, false), "second fd learns of the error too");
        fs.fsync(fh2, false);
        fs.context().hooks.setWbCompleteFault((inode, pos) -> false);
    }

    @Test
    void namespaceOperationsAndOpenUnlinkedFiles() {
        mount(4096, 16 << 20);
        fs.mkdir("/d", 0755, 0, 0);
        long fh = fs.create("/d/a", 0644, OpenFlags.O_RDWR, 0, 0);
        write(fs, fh, 0, pattern(5000, 11));
        fs.link("/d/a", "/b");
        assertEquals(2, fs.getattr("/b").nlink());
        fs.rename("/b", "/d/c");
        long fh2 = fs.create("/x", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.release(fh2);
        fs.rename("/x", "/d/c");
        assertEquals(1, fs.getattr("/d/a").nlink());
        fs.unlink("/d/a");
        assertArrayEquals(pattern(5000, 11), read(fs, fh, 0, 5000), "open unlinked file stays usable");
        assertEquals(Errno.ENOTEMPTY, assertThrows(FsException.class, () -> fs.rmdir("/d")).errno());
        fs.release(fh);
        fs.symlink("/d/c", "/s", 0, 0);
        assertEquals("/d/c", fs.readlink("/s"));
        assertEquals(List.of("c"), fs.readdir("/d").stream().map(x -> x.name()).toList());
    }
}
