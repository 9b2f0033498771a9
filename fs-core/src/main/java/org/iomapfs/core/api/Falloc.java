package org.iomapfs.core.api;

/** fallocate(2) mode bits (linux/falloc.h). */
public final class Falloc {
    public static final int KEEP_SIZE = 0x01;
    public static final int PUNCH_HOLE = 0x02;
    public static final int ZERO_RANGE = 0x10;

    private Falloc() { }
}
