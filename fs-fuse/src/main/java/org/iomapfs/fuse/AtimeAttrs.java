package org.iomapfs.fuse;

import com.kenai.jffi.MemoryIO;

/**
 * Tells the kernel that an OPEN moved the file's atime. FUSE inodes are S_NOATIME, so the engine moves atime
 * itself on a read-only open (the reads that follow may be served by the kernel's page cache and never reach it),
 * but the kernel keeps the attributes it cached before the open for the attribute timeout: a stat right after
 * {@code cat} showed the old atime (fstests generic/003, strictatime). FUSE_NOTIFY_INVAL_INODE with offset -1 on
 * the request's own node (fuse_in_header.nodeid of the OPEN) invalidates only the attributes
 * (fs/fuse/inode.c fuse_reverse_inval_inode; it also bumps attr_version, so a reply fetched before it cannot
 * cache the old atime again), which is safe from the request thread. Only the pool loop exposes the request; on
 * the stock loop the old atime shows until the attribute timeout ends.
 */
final class AtimeAttrs {
    // struct fuse_in_header (linux/fuse.h): u32 len @0, u32 opcode @4, u64 unique @8, u64 nodeid @16
    private static final int IN_OPCODE = 4, IN_NODEID = 16;
    private static final int FUSE_OPEN = 14;

    private final long channel;

    AtimeAttrs(long channel) {
        this.channel = channel;
    }

    /** The OPEN being served moved its file's atime: the kernel's cached attributes of that node are stale. */
    void openMovedAtime() {
        long req = SessionLoop.currentRequest();
        if (req != 0 && MemoryIO.getInstance().getInt(req + IN_OPCODE) == FUSE_OPEN) {
            long node = MemoryIO.getInstance().getLong(req + IN_NODEID);
            if (node != 0) {
                Native.fuse().fuse_lowlevel_notify_inval_inode(channel, node, -1, 0);
            }
        }
    }
}
