package org.iomapfs.core.iomap;

import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.pagecache.Folio;

import java.util.ArrayList;
import java.util.List;

/**
 * struct iomap_ioend: a run of blocks contiguous in the file and on the image, with the same extent state,
 * written with one I/O. The data is copied out of the folios while each is locked, so later stores into a
 * folio under writeback dirty it again instead of tearing this I/O.
 */
public final class Ioend {
    /** The most bytes one ioend carries, and what a writeback pass gathers before it submits. */
    public static final int MAX_IOEND_BYTES = 1 << 20;

    public final Inode inode;
    public final long fileOffset;
    public final long addr;
    public final boolean unwritten;
    public final long submitNanos;
    private byte[] data;
    public int length;
    /** One entry per block added; a folio appears once per block. */
    public final List<Folio> blocks = new ArrayList<>();
    public boolean error;

    public Ioend(Inode inode, long fileOffset, long addr, boolean unwritten) {
        this.inode = inode;
        this.fileOffset = fileOffset;
        this.addr = addr;
        this.unwritten = unwritten;
        this.data = new byte[Folio.SIZE];
        this.submitNanos = System.nanoTime();
    }

    /** Whether a block at file offset {@code pos}, image address {@code a}, can be appended. */
    public boolean continues(Inode in, long pos, long a, boolean unw) {
        return in == inode && pos == fileOffset + length && a == addr + length && unw == unwritten
                && length < MAX_IOEND_BYTES;
    }

    public void add(Folio folio, int offInFolio, int len) {
        if (length + len > data.length) {
            data = java.util.Arrays.copyOf(data, Math.max(data.length * 2, length + len));
        }
        System.arraycopy(folio.data(), offInFolio, data, length, len);
        length += len;
        blocks.add(folio);
    }

    public byte[] data() { return data; }
}
