package org.iomapfs.core.inode;

import org.iomapfs.core.EngineOnImage;
import org.iomapfs.core.api.OpenFlags;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * atime under relatime (fstests generic/192): a read-only open of a file modified since its last access moves
 * atime to now and the change survives a remount; another open of the unchanged file leaves it, and O_NOATIME
 * and write-only opens never touch it.
 */
class RelatimeTest extends EngineOnImage {
    private static final int O_NOATIME = 01000000;

    @Test
    void readOnlyOpenAfterAModificationUpdatesAtimeOncePersistently() throws InterruptedException {
        format();
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        Thread.sleep(2); // clock granularity: the write's mtime must be after the creation's atime
        fs.write(fh, 0, ByteBuffer.wrap("test\n".getBytes()));
        fs.release(fh);
        long written = fs.getattr("/f").atimeNs();
        assertTrue(written < fs.getattr("/f").mtimeNs(), "the write left atime before mtime");

        fs.release(fs.open("/f", OpenFlags.O_RDONLY | O_NOATIME));
        fs.release(fs.open("/f", OpenFlags.O_WRONLY));
        assertEquals(written, fs.getattr("/f").atimeNs(), "O_NOATIME and write-only opens leave atime");

        fs.release(fs.open("/f", OpenFlags.O_RDONLY));
        long accessed = fs.getattr("/f").atimeNs();
        assertTrue(accessed > fs.getattr("/f").mtimeNs(), "a read-only open after the write moves atime past mtime");
        fs.release(fs.open("/f", OpenFlags.O_RDONLY));
        assertEquals(accessed, fs.getattr("/f").atimeNs(), "relatime: the unchanged file keeps its atime");

        fs.close();
        mount();
        assertEquals(accessed, fs.getattr("/f").atimeNs(), "the atime update was committed");
    }
}
