package org.iomapfs.fuse;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;

/**
 * Errno mapping at the FUSE boundary: an operation returns 0 or a negated errno ({@code -ENOENT}), as the
 * callbacks of libfuse's {@code struct fuse_operations} do. An engine error becomes its own errno; anything
 * else is logged and becomes EIO.
 */
final class FuseErrno {
    static final int ENOENT = Errno.ENOENT.code, EACCES = Errno.EACCES.code, EPERM = Errno.EPERM.code;
    static final int EIO = Errno.EIO.code, EBADF = Errno.EBADF.code, EEXIST = Errno.EEXIST.code;
    static final int EISDIR = Errno.EISDIR.code, ENOTDIR = Errno.ENOTDIR.code, EINVAL = Errno.EINVAL.code;
    static final int EOPNOTSUPP = Errno.EOPNOTSUPP.code, ENODATA = Errno.ENODATA.code;
    /** A readdir filler that reports a full buffer (libfuse's fill_dir returns 1): ERANGE, as libfuse 2.9. */
    static final int ERANGE = Errno.ERANGE.code;

    private FuseErrno() { }

    static int of(FsException e) {
        return -e.errno().code;
    }

    static int unexpected(String op, Throwable t) {
        Log.error("unexpected failure in " + op, t);
        return -EIO;
    }
}
