package org.iomapfs.fuse;

import com.kenai.jffi.MemoryIO;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps the link count and ctime that stat(2) shows on every name of a hard-linked file current (fstests
 * generic/002, 236). libfuse 2.9's high-level API gives each name its own node id, so each name is a separate
 * kernel inode with its own cached attributes; since kernel commit 97f044f690ba ("fuse: don't increment nlink in
 * link()") fuse_link updates only the inode the reply names, which libfuse makes the new name's, and fuse_unlink
 * drops the link count of the removed name's inode only. So after a LINK, UNLINK or a RENAME over one name, the
 * other names' inodes keep the old count and ctime for the attribute timeout.
 *
 * <p>This learns the node ids of a hard-linked engine inode from the requests that carry them (a GETATTR's
 * fuse_in_header.nodeid, a LINK's fuse_link_in.oldnodeid) and, after such a change, sends
 * FUSE_NOTIFY_INVAL_INODE with offset -1 for each: fuse_reverse_inval_inode (fs/fuse/inode.c) then only
 * invalidates the attributes (no page is touched and no lock the requester may hold is taken), so the next stat
 * asks the daemon. That is why it may be sent from the request thread. Only the pool loop exposes the
 * request; on the stock loop nothing is learned and the old behaviour stays. Inodes with a single link are never
 * recorded, so files that are never hard-linked cost nothing.
 */
final class HardLinkAttrs {
    // struct fuse_in_header (linux/fuse.h): u32 len @0, u32 opcode @4, u64 unique @8, u64 nodeid @16; 40 bytes
    private static final int IN_OPCODE = 4, IN_NODEID = 16, IN_HEADER_LEN = 40;
    private static final int FUSE_GETATTR = 3, FUSE_LINK = 13;

    private final long channel;
    private final Map<Long, Set<Long>> nodesOfIno = new ConcurrentHashMap<>();

    HardLinkAttrs(long channel) {
        this.channel = channel;
    }

    /** Whether any hard-linked inode is being tracked (callers skip their lookups otherwise). */
    boolean idle() {
        return nodesOfIno.isEmpty();
    }

    /** A GETATTR of engine inode {@code ino} with {@code nlink} links: remembers its node id if it has several. */
    void getattr(long ino, int nlink) {
        long req = SessionLoop.currentRequest();
        if (nlink > 1 && req != 0 && MemoryIO.getInstance().getInt(req + IN_OPCODE) == FUSE_GETATTR) {
            add(ino, MemoryIO.getInstance().getLong(req + IN_NODEID));
        }
    }

    /** A LINK to engine inode {@code ino} succeeded: its existing name's node (fuse_link_in.oldnodeid) is stale. */
    void linked(long ino) {
        long req = SessionLoop.currentRequest();
        if (req != 0 && MemoryIO.getInstance().getInt(req + IN_OPCODE) == FUSE_LINK) {
            add(ino, MemoryIO.getInstance().getLong(req + IN_HEADER_LEN));
        }
        invalidate(ino, 2);
    }

    /** A name of engine inode {@code ino} went (unlink, or replaced by a rename); {@code nlink} links are left. */
    void unlinked(long ino, int nlink) {
        invalidate(ino, nlink);
    }

    private void add(long ino, long nodeid) {
        if (nodeid != 0) {
            nodesOfIno.computeIfAbsent(ino, k -> ConcurrentHashMap.newKeySet()).add(nodeid);
        }
    }

    /** Invalidates the attributes of every known node of {@code ino}; forgets them once one link is left. */
    private void invalidate(long ino, int nlink) {
        Set<Long> nodes = nlink > 1 ? nodesOfIno.get(ino) : nodesOfIno.remove(ino);
        if (nodes == null) {
            return;
        }
        Native.LibFuse2 f = Native.fuse();
        for (long node : nodes) {
            if (f.fuse_lowlevel_notify_inval_inode(channel, node, -1, 0) == -FuseErrno.ENOENT) {
                nodes.remove(node); // the kernel evicted that inode: nothing cached to correct
            }
        }
    }
}
