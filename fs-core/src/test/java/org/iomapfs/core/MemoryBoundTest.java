package org.iomapfs.core;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageCache;
import org.iomapfs.core.store.Mkfs;
import org.iomapfs.core.store.MvMetaStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A user's long fsx run on one file (fstests ltp/fsx -l 8m), shrunk to engine calls: with a page-cache budget
 * far above the file, reclaim never runs, so only removal itself can keep what truncate and punch remove from
 * staying reachable; and every fsync commits metadata, so only compaction keeps {@code IMAGE.meta} small.
 *
 * <p>The default run is sized for the test suite (each fails within its first thousands of operations on an
 * engine without the bound); the acceptance run is a million operations, several minutes on two cores:
 * {@code mvn -B test -pl fs-core -Dtest=MemoryBoundTest -Diomapfs.memtest.ops=1000000}.
 */
class MemoryBoundTest {
    private static final long FILE_MAX = 8L << 20;
    private static final long FILE_FOLIOS = FILE_MAX / Folio.PAGE_SIZE;
    /** Folios a write may add past EOF before the next check (one maximal write) plus readahead. */
    private static final long SLACK = 64;

    @TempDir
    Path dir;
    IomapFs fs;

    @AfterEach
    void close() {
        if (fs != null) {
            fs.close();
        }
    }

    private IomapFs mount() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 256L << 20, 4096, true);
        fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(1L << 30).withWritebackIntervalMs(0));
        return fs;
    }

    private static long ops(long dflt) {
        return Long.getLong("iomapfs.memtest.ops", dflt);
    }

    /** fsx's mix: writes, truncates down and up, punched holes, and an fsync now and then. */
    private void churn(long fh, Random r, long op) {
        long size = fs.fgetattr(fh).size();
        switch (r.nextInt(16)) {
            case 0, 1, 2, 3, 4, 5, 6 -> {
                int len = 1 + r.nextInt(64 * 1024);
                long off = (long) (r.nextDouble() * (FILE_MAX - len));
                byte[] b = new byte[len];
                b[0] = (byte) op;
                b[len - 1] = (byte) (op >> 8);
                fs.write(fh, off, ByteBuffer.wrap(b));
            }
            case 7, 8, 9 -> {
                if (size > 0) {
                    fs.read(fh, (long) (r.nextDouble() * size), ByteBuffer.allocate(1 + r.nextInt(64 * 1024)));
                }
            }
            case 10 -> fs.ftruncate(fh, (long) (r.nextDouble() * FILE_MAX));
            case 11, 12 -> {
                if (size > 0) {
                    long off = (long) (r.nextDouble() * size);
                    long len = 1 + (long) (r.nextDouble() * Math.min(256 * 1024, size - off));
                    fs.fallocate(fh, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, off, len);
                }
            }
            default -> {
                if (op % 64 == 0) {
                    fs.fsync(fh, false);
                }
            }
        }
    }

    @Test
    void foliosRemovedByTruncateAndPunchLeaveTheLruWithTheirMapping() {
        mount();
        PageCache cache = fs.context().cache;
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        Random r = new Random(11);
        long ops = ops(50_000);
        long maxLru = 0;
        long maxCached = 0;
        for (long op = 0; op < ops; op++) {
            churn(fh, r, op);
            if (op % 1000 == 999) {
                long cached = cache.cachedFolios();
                long lru = cache.lruLength();
                maxLru = Math.max(maxLru, lru);
                maxCached = Math.max(maxCached, cached);
                assertTrue(cached <= FILE_FOLIOS + SLACK,
                        "after " + (op + 1) + " ops " + cached + " folios cached for an 8 MiB file");
                assertTrue(lru <= cached,
                        "after " + (op + 1) + " ops the LRU holds " + lru + " folios, the cache " + cached
                                + ": removed folios stay on the LRU");
            }
        }
        System.out.println("MemoryBoundTest: " + ops + " ops, max LRU " + maxLru + " folios, max " + maxCached + " pages cached");
        // the LRU holds folios, the cache counts pages: a large folio is one entry for several pages
        assertTrue(maxCached > FILE_FOLIOS / 4, "the workload filled the cache (max " + maxCached + " pages cached)");
    }

    @Test
    void metadataFileStaysProportionalToTheLiveMetadataOverManyCommits() throws IOException {
        mount();
        Path meta = MvMetaStore.metaPath(dir.resolve("img"));
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        Random r = new Random(12);
        long commits0 = fs.context().store.commitCount();
        long ops = ops(25_000);
        long firstHalfMax = 0;
        long secondHalfMax = 0;
        for (long op = 0; op < ops; op++) {
            churn(fh, r, op);
            if (op % 8 == 0) {
                fs.fsync(fh, true);
            }
            if (op % 1000 == 999) {
                long size = Files.size(meta);
                if (op < ops / 2) {
                    firstHalfMax = Math.max(firstHalfMax, size);
                } else {
                    secondHalfMax = Math.max(secondHalfMax, size);
                }
            }
        }
        long commits = fs.context().store.commitCount() - commits0;
        System.out.println("MemoryBoundTest: " + ops + " ops, " + commits + " commits, IMAGE.meta at most "
                + firstHalfMax + " bytes in the first half, " + secondHalfMax + " in the second, at the end "
                + Files.size(meta));
        assertTrue(commits >= ops / 8, "the churn committed " + commits + " times");
        // The live metadata is one inode, its extents and the free space: a few hundred KiB at most. What a
        // commit leaves behind is reclaimed after the retention (MvMetaStore.RETENTION_MS), so the file follows
        // the commit rate, not the number of commits. With a 1 s retention runs of this test peaked at 13 to 35 MB
        // (the more commits a second, the more); with 250 ms at 6 to 9 MB. Before the housekeeping it grew by
        // about 2.4 KB an op: 60 MB after 25,000.
        long maxMeta = Math.max(firstHalfMax, secondHalfMax);
        assertTrue(maxMeta < 32L << 20, "IMAGE.meta reached " + maxMeta + " bytes (" + firstHalfMax
                + " in the first half) over " + commits + " commits for one 8 MiB file; 32 MiB is the bound users"
                + " were promised");
    }
}
