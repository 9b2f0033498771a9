package org.iomapfs.core.api;

/**
 * Inode types with their S_IFMT bits. The special files (mknod(2)) are only names with attributes here: the kernel
 * opens FIFOs, sockets and device nodes itself (init_special_inode), so no data request reaches the engine.
 * New types go at the end: the metadata store keeps the ordinal.
 */
public enum FileType {
    REGULAR(0100000), DIRECTORY(0040000), SYMLINK(0120000), FIFO(0010000), CHARDEV(0020000), BLOCKDEV(0060000),
    SOCKET(0140000);

    public final int ifmt;

    FileType(int ifmt) { this.ifmt = ifmt; }
}
