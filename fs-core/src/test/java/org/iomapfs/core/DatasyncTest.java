package org.iomapfs.core;

import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.store.ExtentRecord;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fdatasync commits metadata only when more than timestamps is unsynced (xfs_file_fsync's datasync test); what
 * it must keep (the size, the extents, an unwritten conversion) is committed and synced before it returns.
 */
class DatasyncTest extends EngineOnImage {
    private FsContext ctx;

    /** fsyncs and says whether it skipped the metadata commit (the counter of such fdatasyncs moved). */
    private boolean fsyncSkippedCommit(long fh, boolean datasync) {
        long before = (long) ctx.metrics.datasyncsWithoutCommit.count();
        fs.fsync(fh, datasync);
        return (long) ctx.metrics.datasyncsWithoutCommit.count() == before + 1;
    }

    private long settledFile(String path, int bytes) {
        ctx = format().context();
        long fh = fs.create(path, 0644, OpenFlags.O_RDWR, 0, 0);
        if (bytes > 0) {
            fs.write(fh, 0, ByteBuffer.wrap(EngineTest.pattern(bytes, 1)));
        }
        fs.fsync(fh, false);
        return fh;
    }

    @Test
    void anOverwriteOfWrittenBlocksIsFlushedWithoutAMetadataCommit() {
        long fh = settledFile("/f", 16384);
        byte[] data = EngineTest.pattern(4096, 2);
        fs.write(fh, 4096, ByteBuffer.wrap(data));
        assertTrue(fsyncSkippedCommit(fh, true));
        assertEquals(0, ctx.cache.dirtyFolios());
        fs.dropCaches();
        assertArrayEquals(data, EngineTest.read(fs, fh, 4096, 4096), "read back from the image");
    }

    @Test
    void anExtendingWriteCommitsAndSyncsTheNewSize() {
        long fh = settledFile("/f", 100);
        // inside the block already written: nothing changes but the size (and timestamps)
        fs.write(fh, 100, ByteBuffer.wrap(EngineTest.pattern(100, 3)));
        assertFalse(fsyncSkippedCommit(fh, true));
        assertTrue(ctx.store.unsyncedOnlyTimestamps());
        assertEquals(200, ctx.store.getInode(fs.fgetattr(fh).ino()).size());
    }

    @Test
    void aWriteIntoUnwrittenBlocksCommitsAndSyncsTheirConversion() {
        long fh = settledFile("/f", 0);
        fs.fallocate(fh, 0, 0, 65536);
        fs.fsync(fh, false);
        fs.write(fh, 8192, ByteBuffer.wrap(EngineTest.pattern(4096, 4)));
        assertFalse(fsyncSkippedCommit(fh, true));
        assertTrue(ctx.store.unsyncedOnlyTimestamps());
        List<ExtentRecord> extents = ctx.store.extents(fs.fgetattr(fh).ino());
        assertTrue(extents.stream().anyMatch(e -> e.fileBlock() <= 2 && e.fileBlock() + e.blockCount() > 2 && !e.unwritten()),
                "block 2 is written in the store: " + extents);
    }

    @Test
    void fsyncWithoutDatasyncCommitsAfterTimestampChangesToo() {
        long fh = settledFile("/f", 16384);
        fs.write(fh, 0, ByteBuffer.wrap(EngineTest.pattern(4096, 5)));
        long commits = ctx.store.commitCount();
        assertFalse(fsyncSkippedCommit(fh, false));
        assertTrue(ctx.store.commitCount() > commits);
    }
}
