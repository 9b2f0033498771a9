package org.iomapfs.core;

import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.mount.FsContext;
import org.junit.jupiter.api.Test;

import static org.iomapfs.core.EngineTest.pattern;
import static org.iomapfs.core.EngineTest.read;
import static org.iomapfs.core.EngineTest.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What a direct I/O does to the page cache before it moves data (iomap_dio_rw): filemap_write_and_wait_range over
 * its own range only (a mapping with nothing tagged dirty starts no writeback, as filemap_fdatawrite_wbc), and for
 * a write the invalidation of that range (nothing to do on an empty mapping, as invalidate_inode_pages2_range).
 */
class DirectIoFlushTest extends EngineOnImage {
    private static long foliosWritten(FsContext ctx) { return ctx.metrics.writebackLatency.count(); }

    @Test
    void aDirectReadOfACleanCachedFileWritesNothingAndKeepsItsFolios() {
        FsContext ctx = format().context();
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        byte[] a = pattern(64 << 10, 1);
        write(fs, fh, 0, a);
        fs.fsync(fh, false);
        long written = foliosWritten(ctx);
        long cached = ctx.cache.cachedFolios();
        long dfh = fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        assertArrayEquals(a, read(fs, dfh, 0, 64 << 10));
        assertEquals(written, foliosWritten(ctx), "nothing was dirty, nothing written");
        assertEquals(cached, ctx.cache.cachedFolios(), "a direct read flushes but does not invalidate");
    }

    @Test
    void aDirectReadWritesBackTheDirtyFoliosOfItsRangeOnly() {
        FsContext ctx = format().context();
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        write(fs, fh, 0, new byte[128 << 10]);
        fs.fsync(fh, false);
        fs.dropCaches();
        byte[] head = pattern(4096, 2);
        byte[] tail = pattern(4096, 3);
        write(fs, fh, 0, head);
        write(fs, fh, 64 << 10, tail);
        assertEquals(2, ctx.cache.dirtyFolios());
        long dfh = fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        assertArrayEquals(tail, read(fs, dfh, 64 << 10, 4096), "the dirty bytes reached the image first");
        assertEquals(1, ctx.cache.dirtyFolios(), "the folio outside the read's range is still dirty");
        assertArrayEquals(new byte[4096], read(fs, dfh, 4096, 4096), "a clean block next to a dirty one");
        assertArrayEquals(head, read(fs, dfh, 0, 4096));
        assertEquals(0, ctx.cache.dirtyFolios());
    }

    @Test
    void aDirectWriteToAFileWithNothingCachedIsReadBackBothWays() {
        FsContext ctx = format().context();
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        write(fs, fh, 0, pattern(32 << 10, 4));
        fs.fsync(fh, false);
        fs.dropCaches();
        assertEquals(0, ctx.cache.cachedFolios());
        long dfh = fs.open("/f", OpenFlags.O_RDWR | OpenFlags.O_DIRECT);
        byte[] b = pattern(16 << 10, 5);
        write(fs, dfh, 8192, b);
        assertArrayEquals(b, read(fs, fh, 8192, 16 << 10), "buffered");
        assertArrayEquals(b, read(fs, dfh, 8192, 16 << 10), "direct");
        byte[] c = pattern(16 << 10, 6);
        write(fs, dfh, 8192, c);
        assertArrayEquals(c, read(fs, fh, 8192, 16 << 10), "the folios the buffered read cached were dropped");
    }
}
