package org.iomapfs.core.namespace;

import org.iomapfs.core.EngineOnImage;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.OpenFlags;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** inode_init_owner in a setgid directory (fstests generic/696): new names take its group, subdirectories its S_ISGID. */
class SetgidDirectoryTest extends EngineOnImage {
    @Test
    void setgidDirectoryHandsDownItsGroupAndToSubdirectoriesItsSetgidBit() {
        format();
        fs.mkdir("/sg", 02775, 0, 100);
        fs.mkdir("/plain", 0775, 0, 100);
        fs.release(fs.create("/sg/f", 0644, OpenFlags.O_RDWR, 1000, 1000));
        fs.mkdir("/sg/d", 0755, 1000, 1000);
        fs.mknod("/sg/p", FileType.FIFO, 0644, 0, 1000, 1000);
        fs.release(fs.create("/plain/f", 0644, OpenFlags.O_RDWR, 1000, 1000));
        fs.mkdir("/plain/d", 0755, 1000, 1000);

        assertEquals(100, fs.getattr("/sg/f").gid(), "a file takes the setgid directory's group");
        assertEquals(0644, fs.getattr("/sg/f").mode(), "a file gets no S_ISGID from the directory");
        assertEquals(100, fs.getattr("/sg/d").gid());
        assertEquals(02755, fs.getattr("/sg/d").mode(), "a subdirectory inherits S_ISGID");
        assertEquals(100, fs.getattr("/sg/p").gid());
        assertEquals(1000, fs.getattr("/plain/f").gid(), "elsewhere the creator's group");
        assertEquals(0755, fs.getattr("/plain/d").mode());
    }
}
