package org.iomapfs.core.pagecache;

import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.mm.MappedRegion;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Large folios from the buffered write path (iomap_get_folio with fgf_set_order, 6.6): their sizes, and every
 * other path meeting one at an index inside it (reads, partial rewrites, faults, page writes, punch, truncate,
 * direct I/O, reclaim), checked against the bytes in memory and, after a cache drop, on the image.
 */
class LargeFolioTest {
    private static final int PAGE = Folio.PAGE_SIZE;
    @TempDir
    Path dir;
    IomapFs fs;

    /** An engine whose write path makes folios of up to 64 KiB, the size these tests lay their ranges out by. */
    private void mount(int blockSize, long cacheBytes) {
        Path img = dir.resolve("img");
        Mkfs.format(img, 64 << 20, blockSize, true);
        fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(cacheBytes).withWritebackIntervalMs(0));
        fs.controls().write("max_folio_order", "4");
    }

    /** A 4 KiB-block engine with a 16 MiB cache and /f holding {@code a} (not yet written back). */
    private long mountWith(byte[] a) {
        mount(4096, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        write(fh, 0, a);
        return fh;
    }

    /** The i-th folio of /f after an fsync wrote it back. */
    private Folio writtenBack(long fh, int i) {
        fs.fsync(fh, false);
        return folios("/f").get(i);
    }

    @AfterEach
    void close() {
        if (fs != null) {
            fs.close();
        }
    }

    private static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    private void write(long fh, long pos, byte[] data) {
        assertEquals(data.length, fs.write(fh, pos, ByteBuffer.wrap(data)));
    }

    private byte[] read(long fh, long pos, int len) {
        ByteBuffer bb = ByteBuffer.allocate(len);
        int n = fs.read(fh, pos, bb);
        return Arrays.copyOf(bb.array(), n);
    }

    private List<Folio> folios(String path) {
        return fs.inode(path).mapping.folios(0, Long.MAX_VALUE);
    }

    /** The expected file after writeback and a cache drop, read from the image, and before, from the cache. */
    private void assertFile(long fh, byte[] expect) {
        assertArrayEquals(expect, read(fh, 0, expect.length + 100), "from the page cache");
        fs.fsync(fh, false);
        fs.dropCaches();
        assertEquals(0, fs.context().cache.cachedFolios(), "the drop left nothing cached");
        assertArrayEquals(expect, read(fh, 0, expect.length + 100), "from the image");
    }

    @Test
    void theDefaultIsTheLargestFolioTheBlockStateDescribesForFourKiBBlocks() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 64 << 20, 4096, true);
        fs = IomapFs.open(img, EngineConfig.defaults().withWritebackIntervalMs(0));
        assertEquals("6\n", fs.controls().read("max_folio_order"));
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern(1 << 20, 18);
        write(fh, 0, a);
        assertEquals(4, folios("/f").size(), "1 MiB in 256 KiB folios: " + folios("/f"));
        assertFile(fh, a);
    }

    /** /old written with 0x5a, written back and dropped: its folios' arrays wait in the pool. */
    private void poolHoldsOldData(int len) {
        long old = fs.create("/old", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] stale = new byte[len];
        Arrays.fill(stale, (byte) 0x5a);
        write(old, 0, stale);
        fs.fsync(old, false);
        fs.release(old);
        fs.dropCaches();
        assertTrue(fs.context().cache.pooledFolios() > 0, "the dropped folios' memory is pooled");
    }

    @Test
    void writesOverReusedUnzeroedMemoryLeaveOnlyTheirOwnBytes() {
        mount(4096, 16 << 20);
        poolHoldsOldData(1 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern((1 << 20) + 3 * PAGE + 100, 21);
        write(fh, 0, a);
        assertEquals(4, folios("/f").get(0).order(), "whole 64 KiB folios on the pool's memory");
        assertFile(fh, a);
    }

    @Test
    void aShortCopyIntoReusedMemoryInsideEofLeavesNoOldBytes() {
        mount(4096, 16 << 20);
        poolHoldsOldData(1 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.truncate("/f", 256 << 10);
        fs.controls().write("inject/copyin_fail", "1");
        fs.controls().write("inject/copyin_bytes", "100");
        fs.controls().write("inject/target_range", "all");
        fs.controls().write("inject/nth", "1");
        byte[] a = pattern(64 << 10, 22);
        write(fh, 64 << 10, a);
        fs.controls().write("inject/copyin_fail", "0");
        byte[] expect = new byte[256 << 10];
        System.arraycopy(a, 0, expect, 64 << 10, a.length);
        assertFile(fh, expect);
    }

    @Test
    void anAlignedWriteCreatesFoliosOfTheLargestOrderAndTheTailGetsSmallerOnes() {
        byte[] a = pattern((1 << 20) + 3 * PAGE, 1);
        long fh = mountWith(a);
        List<Folio> f = folios("/f");
        int max = 4;
        assertEquals(16 + 2, f.size(), "1 MiB in 64 KiB folios, then 8 KiB and 4 KiB: " + f);
        for (int i = 0; i < 16; i++) {
            assertEquals(max, f.get(i).order());
            assertEquals((long) i << (max + Folio.PAGE_SHIFT), f.get(i).pos());
        }
        assertEquals(1, f.get(16).order());
        assertEquals(0, f.get(17).order());
        assertEquals(a.length / PAGE, fs.context().cache.cachedFolios(), "the cache counts pages");
        assertEquals(a.length / PAGE, fs.context().cache.dirtyFolios(), "and dirty pages");
        assertFile(fh, a);
    }

    @Test
    void orderZeroGivesSinglePageFolios() {
        mount(4096, 16 << 20);
        fs.controls().write("max_folio_order", "0");
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern(256 << 10, 2);
        write(fh, 0, a);
        assertEquals(64, folios("/f").size());
        assertTrue(folios("/f").stream().allMatch(x -> x.order() == 0));
        assertFile(fh, a);
    }

    @ParameterizedTest(name = "block size {0}: largest order {1}")
    @CsvSource({"512, 3", "1024, 4", "4096, 4"})
    void theBlockSizeBoundsTheOrderToSixtyFourBlocks(int bs, int order) {
        mount(bs, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        assertEquals(order, fs.inode("/f").mapping.maxFolioOrder());
        byte[] a = pattern(512 << 10, 3);
        write(fh, 0, a);
        assertTrue(folios("/f").stream().allMatch(x -> x.order() == order), folios("/f").toString());
        assertFile(fh, a);
    }

    @Test
    void unalignedWritesAndPartialRewritesKeepEveryByte() {
        mount(1024, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] expect = new byte[700_000];
        Random r = new Random(4);
        boolean sawLarge = false;
        for (int i = 0; i < 40; i++) {
            int pos = r.nextInt(600_000);
            byte[] d = pattern(1 + r.nextInt(100_000), 100 + i);
            int n = Math.min(d.length, expect.length - pos);
            write(fh, pos, Arrays.copyOf(d, n));
            System.arraycopy(d, 0, expect, pos, n);
            sawLarge |= folios("/f").stream().anyMatch(x -> x.order() > 0);
            if (i % 10 == 9) {
                assertFile(fh, Arrays.copyOf(expect, (int) fs.fgetattr(fh).size()));
            }
        }
        assertTrue(sawLarge, "the writes created large folios");
        assertFile(fh, Arrays.copyOf(expect, (int) fs.fgetattr(fh).size()));
    }

    @Test
    void aRewriteOfOneBlockWritesBackThatBlockOnlyAndKeepsTheRest() {
        byte[] a = pattern(64 << 10, 5);
        long fh = mountWith(a);
        Folio f = writtenBack(fh, 0);
        assertEquals(4, f.order());
        byte[] b = pattern(100, 6);
        write(fh, 20_000, b);
        assertEquals(1, fs.context().cache.dirtyFolios() / f.nr(), "the whole folio is dirty as one");
        for (int i = 0; i < 16; i++) {
            assertEquals(i == 20_000 / PAGE, f.blockDirty(i), "block " + i);
        }
        System.arraycopy(b, 0, a, 20_000, b.length);
        assertFile(fh, a);
    }

    @Test
    void aPunchInsideALargeFolioKeepsTheBytesAroundIt() {
        byte[] a = pattern(128 << 10, 7);
        long fh = mountWith(a);
        fs.fallocate(fh, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, 5000, 20_000);
        Arrays.fill(a, 5000, 25_000, (byte) 0);
        assertFile(fh, a);
    }

    @Test
    void aTruncateIntoALargeFolioZeroesWhatLiesBeyondItAfterReextension() {
        byte[] a = pattern(128 << 10, 8);
        long fh = mountWith(a);
        fs.ftruncate(fh, 70_001);
        fs.ftruncate(fh, 128 << 10);
        Arrays.fill(a, 70_001, a.length, (byte) 0);
        assertFile(fh, a);
        write(fh, 0, Arrays.copyOf(a, 65536));
        fs.ftruncate(fh, 30_000);
        assertFile(fh, Arrays.copyOf(a, 30_000));
    }

    @Test
    void faultsAndPageWritesIntoALargeFolioStoreAtTheirOffsetAndDirtyItWhole() {
        byte[] a = pattern(128 << 10, 9);
        long fh = mountWith(a);
        Folio f = writtenBack(fh, 1);
        assertEquals(65536, f.pos());
        try (MappedRegion map = fs.mm().map(fh, 0, a.length)) {
            byte[] s = pattern(6000, 10);
            map.store(65536 + 5 * PAGE + 100, s, 0, s.length);
            System.arraycopy(s, 0, a, 65536 + 5 * PAGE + 100, s.length);
            byte[] back = new byte[a.length];
            map.load(0, back, 0, back.length);
            assertArrayEquals(a, back, "loads see the stores");
        }
        assertTrue(f.isDirty());
        for (int i = 0; i < 16; i++) {
            assertTrue(f.blockDirty(i), "page_mkwrite dirties the whole folio: block " + i);
        }
        // the kernel writes back a FUSE mapping's page: the daemon replays it into the folio holding it
        byte[] p = pattern(PAGE, 11);
        assertEquals(PAGE, fs.writePage(fh, 65536 + 9 * PAGE, ByteBuffer.wrap(p)));
        System.arraycopy(p, 0, a, 65536 + 9 * PAGE, PAGE);
        assertFile(fh, a);
    }

    @Test
    void directIoOverALargeFolioWritesItBackFirstAndDropsIt() {
        byte[] a = pattern(128 << 10, 12);
        long fh = mountWith(a);
        long dfh = fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        byte[] d = pattern(8192, 13);
        assertEquals(d.length, fs.write(dfh, 65536 + 16384, ByteBuffer.wrap(d)));
        System.arraycopy(d, 0, a, 65536 + 16384, d.length);
        assertArrayEquals(a, read(fh, 0, a.length), "buffered reads see the direct write");
        ByteBuffer db = ByteBuffer.allocate(a.length);
        assertEquals(a.length, fs.read(dfh, 0, db));
        assertArrayEquals(a, db.array(), "direct reads see the buffered writes");
        fs.release(dfh);
        assertFile(fh, a);
    }

    @Test
    void readsAroundALargeFolioReadTheRestAroundIt() {
        byte[] a = pattern(512 << 10, 14);
        long fh = mountWith(a);
        fs.fsync(fh, false);
        fs.dropCaches();
        byte[] b = pattern(65536, 15);
        write(fh, 131072, b);
        System.arraycopy(b, 0, a, 131072, b.length);
        assertArrayEquals(a, read(fh, 0, a.length), "readahead stops at the large folio and goes on after it");
        assertFile(fh, a);
    }

    @Test
    void reclaimEvictsLargeFoliosWithinTheBudgetInPages() {
        mount(4096, 1 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern(8 << 20, 16);
        for (int off = 0; off < a.length; off += 1 << 20) {
            write(fh, off, Arrays.copyOfRange(a, off, off + (1 << 20)));
            fs.fsync(fh, false);
            assertTrue(fs.context().cache.cachedFolios() <= (1 << 20) / PAGE + 64,
                    fs.context().cache.cachedFolios() + " pages cached over a 256-page budget");
        }
        assertArrayEquals(a, read(fh, 0, a.length));
        assertFile(fh, a);
    }

    @Test
    void aLargeFolioIsFoundAtEveryIndexItHolds() {
        mount(4096, 16 << 20);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        write(fh, 0, pattern(65536, 17));
        Inode in = fs.inode("/f");
        Folio f = in.mapping.find(0);
        for (long i = 0; i < 16; i++) {
            assertSame(f, in.mapping.find(i));
        }
        assertNull(in.mapping.find(16));
        assertEquals(List.of(f), in.mapping.folios(3, 9), "listed once");
        assertEquals(7000, in.mapping.seekHoleData(7000, 65536, true), "data inside it");
        assertEquals(65536, in.mapping.seekHoleData(7000, 1 << 20, false), "the hole after it");
    }
}
