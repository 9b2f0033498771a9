package org.iomapfs.core.api;

/** Linux errno values the engine reports; the numbers are the x86_64/generic ones from asm-generic/errno*.h. */
public enum Errno {
    EPERM(1), ENOENT(2), EINTR(4), EIO(5), ENXIO(6), E2BIG(7), EBADF(9), EAGAIN(11), ENOMEM(12), EACCES(13), EFAULT(14),
    EBUSY(16), EEXIST(17), EXDEV(18), ENOTDIR(20), EISDIR(21), EINVAL(22), EFBIG(27), ENOSPC(28),
    EROFS(30), EMLINK(31), ERANGE(34), EDEADLK(35), ENAMETOOLONG(36), ENOTEMPTY(39), ELOOP(40), ENODATA(61),
    EOPNOTSUPP(95);

    public final int code;

    Errno(int code) { this.code = code; }
}
