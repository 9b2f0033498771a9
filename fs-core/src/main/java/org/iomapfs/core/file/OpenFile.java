package org.iomapfs.core.file;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.pagecache.FileRaState;

/**
 * An open file (struct file): the inode, its open flags, the errseq cookie it reports from (f_wb_err) and its
 * readahead state (f_ra).
 */
public final class OpenFile {
    public final Inode inode;
    public final int flags;
    public final FileRaState ra = new FileRaState();
    private final long[] errSince = new long[1];

    OpenFile(Inode inode, int flags) {
        this.inode = inode;
        this.flags = flags;
        this.errSince[0] = inode.mapping.wbErr.sample();
    }

    public boolean isDirect() { return OpenFlags.isDirect(flags); }

    /** The inode, if it is a regular file: EISDIR for a directory, EINVAL for anything else. */
    public Inode regular(String what) { return regular(inode, what); }

    public static Inode regular(Inode in, String what) {
        if (in.type == FileType.DIRECTORY) {
            throw new FsException(Errno.EISDIR, what + ": is a directory");
        }
        if (in.type != FileType.REGULAR) {
            throw new FsException(Errno.EINVAL, what + ": not a regular file");
        }
        return in;
    }

    /** EBADF unless opened for writing (the FMODE_WRITE check). */
    public void checkWritable() {
        if (!OpenFlags.canWrite(flags)) {
            throw new FsException(Errno.EBADF, "file is not open for writing");
        }
    }

    /** file_check_and_advance_wb_err: the mapping's writeback error not yet reported to this file, or 0. */
    public int checkAndAdvanceWbErr() { return inode.mapping.wbErr.checkAndAdvance(errSince); }
}
