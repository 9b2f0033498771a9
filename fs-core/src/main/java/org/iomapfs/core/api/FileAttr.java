package org.iomapfs.core.api;

/**
 * What stat(2) reports for an inode. {@code blocks} is in 512-byte units like st_blocks; times are ns since the
 * epoch; {@code rdev} is st_rdev of a device node (0 otherwise).
 */
public record FileAttr(long ino, FileType type, int mode, int nlink, int uid, int gid, long size, long blocks,
                       int blockSize, long atimeNs, long mtimeNs, long ctimeNs, long rdev) {
    public FileAttr(long ino, FileType type, int mode, int nlink, int uid, int gid, long size, long blocks,
                    int blockSize, long atimeNs, long mtimeNs, long ctimeNs) {
        this(ino, type, mode, nlink, uid, gid, size, blocks, blockSize, atimeNs, mtimeNs, ctimeNs, 0);
    }

    /** st_mode: file type bits plus permission bits. */
    public int stMode() { return type.ifmt | (mode & 07777); }
}
