package org.iomapfs.fuse;

import java.nio.file.Path;

/**
 * Mount options; {@code allowOther} lets other users (and the control directory's non-owners) in. Without
 * {@code subtype} the type is plain {@code fuse}, as fstests' FSTYP=fuse expects ({@code findmnt -t fuse}).
 */
public record MountOptions(String fsName, int threads, LoopKind loop, int maxWrite, boolean allowOther, boolean debug,
                           boolean subtype) {
    public MountOptions(String fsName, int threads, LoopKind loop, int maxWrite, boolean allowOther, boolean debug) {
        this(fsName, threads, loop, maxWrite, allowOther, debug, true);
    }

    public MountOptions {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1");
        }
        if (maxWrite < 131072) {
            throw new IllegalArgumentException("max_write must be at least 131072");
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
