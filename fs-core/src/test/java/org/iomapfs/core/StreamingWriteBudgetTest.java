package org.iomapfs.core;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageCache;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.Test;

/**
 * A writer streaming over a file several times the page-cache budget in 1 MiB writes, with fsyncs between, as fio's
 * sequential write job does through the mount: the cache stays within its budget. Its folios are 256 KiB (64
 * pages), and reclaim asked for SWAP_CLUSTER_MAX pages per folio added, so it freed at most the folio it added; each
 * scan that met only referenced folios freed nothing, and the cache kept that folio over the budget for good.
 */
class StreamingWriteBudgetTest extends EngineOnImage {
    private static final long BUDGET = 128L << 20;
    private static final long FILE = 4 * BUDGET;

    @Test
    void fsyncsBetweenStreamingWritesLeaveTheCacheWithinItsBudget() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1L << 30, 4096, true);
        fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(BUDGET));
        PageCache cache = fs.context().cache;
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        ByteBuffer mib = ByteBuffer.allocate(1 << 20);
        long budgetPages = BUDGET / Folio.PAGE_SIZE;
        long most = 0;
        for (int pass = 0; pass < 4; pass++) {
            for (long off = 0; off < FILE; off += mib.capacity()) {
                fs.write(fh, off, mib.clear());
                if (off % (BUDGET / 2) == 0) {
                    fs.fsync(fh, true);
                }
                if (pass > 0) {
                    most = Math.max(most, cache.cachedFolios());
                }
            }
        }
        // one folio of the largest order may sit over the budget: the one just added when its scan met only
        // referenced folios
        long slack = 1L << PageCache.DEFAULT_MAX_FOLIO_ORDER;
        assertTrue(most <= budgetPages + slack, "the cache held " + most + " pages against a budget of "
                + budgetPages);
    }
}
