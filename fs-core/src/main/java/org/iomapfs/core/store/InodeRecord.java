package org.iomapfs.core.store;

import org.iomapfs.core.api.FileType;

/**
 * An inode as persisted in the metadata store. {@code symlinkTarget} is null unless the type is SYMLINK;
 * {@code rdev} (the device number, as the kernel's new_encode_dev) is 0 unless it is a device node.
 * {@code size} is the inode size at the last metadata update; it may run ahead of written data after a crash,
 * in which case the gap reads as zeroes (holes or unwritten extents), never as stale blocks.
 */
public record InodeRecord(long ino, FileType type, int mode, int uid, int gid, int nlink, long size,
                          long atimeNs, long mtimeNs, long ctimeNs, String symlinkTarget, long rdev) {
    /** An inode that is no device node (rdev 0). */
    public InodeRecord(long ino, FileType type, int mode, int uid, int gid, int nlink, long size,
                       long atimeNs, long mtimeNs, long ctimeNs, String symlinkTarget) {
        this(ino, type, mode, uid, gid, nlink, size, atimeNs, mtimeNs, ctimeNs, symlinkTarget, 0);
    }
}
