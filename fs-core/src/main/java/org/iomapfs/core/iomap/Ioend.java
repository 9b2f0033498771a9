package org.iomapfs.core.iomap;

import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.pagecache.Folio;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * struct iomap_ioend: a run of blocks contiguous in the file and on the image, with the same extent state,
 * written with one I/O. The data is copied out of the folios while each is locked, so later stores into a
 * folio under writeback dirty it again instead of tearing this I/O. It is copied into a slice of the writeback
 * pass's staging buffer (one of {@code MAX_IOEND_BYTES} plus a folio, reused from pass to pass), so an ioend
 * allocates no data array of its own; the buffer is free again once the pass has written its ioends, since
 * the data is written at submission and completion needs only the folios. The buffer is direct memory: the
 * image write reads it as it is, where a heap array is copied once more into a temporary direct buffer by the
 * JDK (sun.nio.ch.IOUtil.write) before the kernel copies it.
 */
public final class Ioend {
    /** The most bytes one ioend carries, and what a writeback pass gathers before it submits. */
    public static final int MAX_IOEND_BYTES = 1 << 20;

    public final Inode inode;
    public final long fileOffset;
    public final long addr;
    public final boolean unwritten;
    public final long submitNanos;
    private final ByteBuffer buf;
    /** Where this ioend's data starts in the staging buffer. */
    public final int bufOffset;
    public int length;
    /** One entry per block added; a folio appears once per block. */
    public final List<Folio> blocks = new ArrayList<>();
    public boolean error;

    /** An ioend whose data goes to {@code buf} from {@code bufOffset} on; the caller guarantees the room. */
    public Ioend(Inode inode, long fileOffset, long addr, boolean unwritten, ByteBuffer buf, int bufOffset) {
        this.inode = inode;
        this.fileOffset = fileOffset;
        this.addr = addr;
        this.unwritten = unwritten;
        this.buf = buf;
        this.bufOffset = bufOffset;
        this.submitNanos = System.nanoTime();
    }

    /** Whether a block at file offset {@code pos}, image address {@code a}, can be appended. */
    public boolean continues(Inode in, long pos, long a, boolean unw) {
        return in == inode && pos == fileOffset + length && a == addr + length && unw == unwritten
                && length < MAX_IOEND_BYTES;
    }

    public void add(Folio folio, int offInFolio, int len) {
        buf.put(bufOffset + length, folio.data(), offInFolio, len);
        length += len;
        blocks.add(folio);
    }

    /** The data: a view of the staging buffer's {@link #length} bytes from {@link #bufOffset}. */
    public ByteBuffer data() { return buf.slice(bufOffset, length); }
}
