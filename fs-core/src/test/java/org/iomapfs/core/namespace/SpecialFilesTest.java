package org.iomapfs.core.namespace;

import org.iomapfs.core.EngineOnImage;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** mknod(2) of FIFOs, sockets and device nodes: type, mode and rdev survive a remount; unlink removes them. */
class SpecialFilesTest extends EngineOnImage {
    @Test
    void mknodTypesModesAndDeviceNumbersPersistAcrossRemount() {
        format();
        long devNull = (1 << 8) | 3; // new_encode_dev(MKDEV(1, 3))
        fs.mknod("/fifo", FileType.FIFO, 0640, 0, 1, 2);
        fs.mknod("/sock", FileType.SOCKET, 0755, 0, 0, 0);
        fs.mknod("/null", FileType.CHARDEV, 0666, devNull, 0, 0);
        fs.mknod("/loop", FileType.BLOCKDEV, 0660, 7 << 8, 0, 0);
        assertEquals(Errno.EEXIST, assertThrows(FsException.class,
            () -> fs.mknod("/fifo", FileType.FIFO, 0640, 0, 0, 0)).errno());
        fs.close();
        mount();
        FileAttr fifo = fs.getattr("/fifo");
        assertEquals(FileType.FIFO, fifo.type());
        assertEquals(0010640, fifo.stMode());
        assertEquals(1, fifo.uid());
        assertEquals(0, fifo.rdev());
        assertEquals(FileType.SOCKET, fs.getattr("/sock").type());
        assertEquals(FileType.CHARDEV, fs.getattr("/null").type());
        assertEquals(devNull, fs.getattr("/null").rdev());
        assertEquals(7 << 8, fs.getattr("/loop").rdev());
        fs.unlink("/null");
        assertEquals(Errno.ENOENT, assertThrows(FsException.class, () -> fs.getattr("/null")).errno());
    }
}
