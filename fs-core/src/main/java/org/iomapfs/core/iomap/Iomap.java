package org.iomapfs.core.iomap;

/**
 * struct iomap: a byte range of a file, what backs it, and the validity cookie sampled under the extent lock
 * when the mapping was made (xfs_iomap_inode_sequence). {@code flags} is mutable only for
 * {@link #F_STALE}, which the write path sets when {@code ->iomap_valid} fails.
 */
public final class Iomap implements org.iomapfs.core.trace.Trace.Described {
    /** IOMAP_NULL_ADDR. */
    public static final long NULL_ADDR = -1;
    /** IOMAP_F_NEW: blocks allocated or reserved by this very mapping call. */
    public static final int F_NEW = 1;
    /** IOMAP_F_STALE: the mapping went stale under the iteration; re-map even if nothing was done. */
    public static final int F_STALE = 1 << 9;

    public final long offset;
    public final long length;
    public final IomapType type;
    /** Byte address on the image, or NULL_ADDR. */
    public final long addr;
    public final long validityCookie;
    public volatile int flags;

    public Iomap(long offset, long length, IomapType type, long addr, int flags, long validityCookie) {
        if (length <= 0) {
            throw new IllegalArgumentException("iomap of length " + length);
        }
        this.offset = offset;
        this.length = length;
        this.type = type;
        this.addr = addr;
        this.flags = flags;
        this.validityCookie = validityCookie;
    }

    public long end() { return offset + length; }

    public boolean isNew() { return (flags & F_NEW) != 0; }

    public boolean isStale() { return (flags & F_STALE) != 0; }

    /** Image byte address backing file byte {@code pos} (MAPPED and UNWRITTEN only). */
    public long addrOf(long pos) { return addr + (pos - offset); }

    @Override
    public String toString() {
        return describe(flags);
    }

    /** The trace's view: this mapping with the flags it had when the event was recorded. */
    @Override
    public String describe(long flagsThen) {
        return describe((int) flagsThen);
    }

    /** This mapping as it was when its flags were {@code flagsThen} (the trace snapshots them). */
    public String describe(int flagsThen) {
        return "iomap[" + offset + "+" + length + " " + type + ((flagsThen & F_NEW) != 0 ? " NEW" : "")
                + ((flagsThen & F_STALE) != 0 ? " STALE" : "") + (addr != NULL_ADDR ? " @" + addr : "")
                + " cookie=" + validityCookie + "]";
    }
}
