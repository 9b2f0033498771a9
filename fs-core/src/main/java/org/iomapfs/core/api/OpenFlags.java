package org.iomapfs.core.api;

/** open(2) flag bits (x86_64 values) that the engine understands. */
public final class OpenFlags {
    public static final int O_ACCMODE = 03;
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 01;
    public static final int O_RDWR = 02;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_DIRECT = 040000;

    private OpenFlags() { }

    public static boolean isDirect(int flags) { return (flags & O_DIRECT) != 0; }

    public static boolean canWrite(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }
}
