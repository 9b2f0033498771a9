package org.iomapfs.core.store;

import org.iomapfs.core.api.FileType;

/**
 * An inode as persisted in the metadata store. {@code symlinkTarget} is null unless the type is SYMLINK.
 * {@code size} is the inode size at the last metadata update; it may run ahead of written data after a crash,
 * in which case the gap reads as zeroes (holes or unwritten extents), never as stale blocks.
 */
public record InodeRecord(long ino, FileType type, int mode, int uid, int gid, int nlink, long size,
                          long atimeNs, long mtimeNs, long ctimeNs, String symlinkTarget) { }
