package org.iomapfs.core.block;

/** Block arithmetic shared by the iomap core and the fs side. */
public final class Blocks {
    private Blocks() { }

    /** round_up (include/linux/math.h): {@code v} rounded up to a multiple of {@code align}. */
    public static long roundUp(long v, long align) { return (v + align - 1) / align * align; }
}
