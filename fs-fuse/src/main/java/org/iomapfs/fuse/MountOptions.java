package org.iomapfs.fuse;

import org.iomapfs.core.config.AtimePolicy;

import java.nio.file.Path;

/**
 * Mount options; {@code allowOther} lets other users (and the control directory's non-owners) in. Without
 * {@code subtype} the type is plain {@code fuse}, as fstests' FSTYP=fuse expects ({@code findmnt -t fuse}).
 * {@code readOnly} mounts with MS_RDONLY (the kernel refuses writes with EROFS) and opens the image read-only;
 * {@code atime} is the engine's atime policy (FUSE inodes are S_NOATIME: the kernel applies none itself).
 * {@code maxWrite} bounds each READ and WRITE request; above 128 KiB the pool loop asks the kernel for it with
 * FUSE_MAX_PAGES, which libfuse 2.9 cannot negotiate itself.
 */
public record MountOptions(String fsName, int threads, LoopKind loop, int maxWrite, boolean allowOther, boolean debug,
                           boolean subtype, boolean readOnly, AtimePolicy atime) {
    /** libfuse 2.9's own limit (its channel's 132 KiB buffer less 4 KiB) and the kernel's default of 32 pages. */
    public static final int MIN_MAX_WRITE = 131072;
    /**
     * 256 pages: libfuse 3's FUSE_MAX_MAX_PAGES and the kernel's default fs.fuse.max_pages_limit, asked for with
     * FUSE_MAX_PAGES ({@link InitReply}); passthrough_ll runs with it.
     */
    public static final int MAX_MAX_WRITE = 1 << 20;
    public MountOptions(String fsName, int threads, LoopKind loop, int maxWrite, boolean allowOther, boolean debug) {
        this(fsName, threads, loop, maxWrite, allowOther, debug, true, false, AtimePolicy.DEFAULT);
    }

    public MountOptions {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1");
        }
        if (maxWrite < MIN_MAX_WRITE || maxWrite > MAX_MAX_WRITE) {
            throw new IllegalArgumentException("max_write must be between " + MIN_MAX_WRITE + " and " + MAX_MAX_WRITE
                + " bytes, not " + maxWrite);
        }
        if (loop == LoopKind.STOCK && maxWrite > MIN_MAX_WRITE) {
            // fuse_loop_mt receives into libfuse's own 132 KiB buffers and replies to INIT unamended
            throw new IllegalArgumentException("max_write above " + MIN_MAX_WRITE + " needs the pool loop");
        }
        if (atime == null) {
            throw new IllegalArgumentException("atime policy is required");
        }
    }

    /**
     * fuse_setup's argv for a mount at {@code mnt}. Never {@code -s}: the races this filesystem reproduces need
     * concurrent requests.
     */
    String[] argv(Path mnt) {
        StringBuilder opts = new StringBuilder();
        opts.append("fsname=").append(escapeOpt(fsName));
        if (subtype) {
            opts.append(",subtype=iomapfs");
        }
        // big_writes: otherwise libfuse 2 lets the kernel split writes to 4 KiB
        opts.append(",big_writes,max_write=").append(maxWrite).append(",max_read=").append(maxWrite);
        // use_ino: st_ino is the engine's; hard_remove: unlink goes to the engine instead of a .fuse_hidden rename
        opts.append(",use_ino,hard_remove");
        if (readOnly) {
            opts.append(",ro"); // libfuse 2.9 mount.c's mount_flags: MS_RDONLY
        }
        if (atime.mode() == AtimePolicy.Mode.NOATIME) {
            // MS_NOATIME, so the mount table says noatime; libfuse 2.9 knows no relatime, strictatime or
            // nodiratime and would hand them to the kernel's fuse, which refuses unknown options
            opts.append(",noatime");
        }
        if (allowOther) {
            // other users may enter, so the kernel must enforce the engine's modes and owners
            opts.append(",allow_other,default_permissions");
        }
        return debug
            ? new String[] {"iomapfs", mnt.toString(), "-f", "-d", "-o", opts.toString()}
            : new String[] {"iomapfs", mnt.toString(), "-f", "-o", opts.toString()};
    }

    private static String escapeOpt(String s) {
        return s.replace("\\", "\\\\").replace(",", "\\,");
    }
}
