package org.iomapfs.shim.sys;

import java.nio.ByteBuffer;

/** Buffers that O_DIRECT accepts. */
public final class PageCache {
    /** What the mount's O_DIRECT needs: offsets, lengths and buffer addresses aligned to the page size. */
    public static final int DIO_ALIGN = 4096;

    private PageCache() { }

    /** A direct buffer of {@code size} bytes whose address is a multiple of {@link #DIO_ALIGN}. */
    public static ByteBuffer alignedBuffer(int size) {
        int whole = (size + DIO_ALIGN - 1) & -DIO_ALIGN;
        return ByteBuffer.allocateDirect(whole + DIO_ALIGN).alignedSlice(DIO_ALIGN).limit(size).slice();
    }
}
