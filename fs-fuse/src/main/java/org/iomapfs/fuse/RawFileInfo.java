package org.iomapfs.fuse;

import jnr.ffi.Pointer;

/**
 * Raw access to libfuse 2.9's {@code struct fuse_file_info} (fuse_common.h). jnr-fuse 0.5.7's
 * {@code FuseFileInfo} omits {@code int writepage}, so its bitfields, {@code fh} and {@code lock_owner} sit at
 * the wrong offsets; these are the real x86_64/aarch64 LP64 ones.
 */
final class RawFileInfo {
    static final int FLAGS = 0;       // int flags
    static final int FH_OLD = 8;      // unsigned long fh_old
    static final int WRITEPAGE = 16;  // int writepage
    static final int BITS = 20;       // direct_io:1 keep_cache:1 flush:1 nonseekable:1 flock_release:1 ...
    static final int FH = 24;         // uint64_t fh
    static final int LOCK_OWNER = 32; // uint64_t lock_owner
    static final int SIZE = 40;

    static final int DIRECT_IO_BIT = 1;
    static final int KEEP_CACHE_BIT = 2;

    private RawFileInfo() { }

    static int flags(Pointer fi) { return fi.getInt(FLAGS); }

    static boolean writepage(Pointer fi) { return fi.getInt(WRITEPAGE) != 0; }

    static long fh(Pointer fi) { return fi.getLong(FH); }

    static void setFh(Pointer fi, long fh) { fi.putLong(FH, fh); }

    /** Tells the kernel to bypass its page cache for this open file (FOPEN_DIRECT_IO), so size is not trusted. */
    static void setDirectIo(Pointer fi) { fi.putInt(BITS, fi.getInt(BITS) | DIRECT_IO_BIT); }

    /** FOPEN_KEEP_CACHE: the kernel keeps the file's page cache across this open (fuse_finish_open). */
    static void setKeepCache(Pointer fi) { fi.putInt(BITS, fi.getInt(BITS) | KEEP_CACHE_BIT); }
}
