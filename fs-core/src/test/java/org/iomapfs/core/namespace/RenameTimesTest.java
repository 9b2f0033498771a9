package org.iomapfs.core.namespace;

import org.iomapfs.core.EngineOnImage;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.OpenFlags;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * rename(2)'s timestamps (fstests generic/003 "after changing file1"): the moved inode gets a new ctime only
 * (xfs_rename: xfs_trans_ichgtime(tp, src_ip, XFS_ICHGTIME_CHG)); its mtime and atime stay, and both parent
 * directories get a new mtime and ctime.
 */
class RenameTimesTest extends EngineOnImage {
    @Test
    void renameChangesOnlyTheMovedInodesCtimeAndBothParentsMtime() throws InterruptedException {
        format();
        fs.mkdir("/a", 0755, 0, 0);
        fs.mkdir("/b", 0755, 0, 0);
        long fh = fs.create("/a/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap("x".getBytes()));
        fs.release(fh);
        FileAttr before = fs.getattr("/a/f");
        FileAttr dirBefore = fs.getattr("/b");
        Thread.sleep(2); // clock granularity: a change made by the rename must show as a later time
        fs.rename("/a/f", "/b/g");
        FileAttr after = fs.getattr("/b/g");
        assertEquals(before.mtimeNs(), after.mtimeNs(), "the moved file keeps its mtime");
        assertEquals(before.atimeNs(), after.atimeNs(), "the moved file keeps its atime");
        assertTrue(after.ctimeNs() > before.ctimeNs(), "the moved file gets a new ctime");
        assertTrue(fs.getattr("/b").mtimeNs() > dirBefore.mtimeNs(), "the new parent gets a new mtime");
    }
}
