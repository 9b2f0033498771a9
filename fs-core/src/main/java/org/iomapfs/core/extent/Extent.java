package org.iomapfs.core.extent;

/** {@code len} file blocks from file block {@code start}, at image block {@code disk} (-1 for delalloc). */
public record Extent(long start, long len, ExtentType type, long disk) {
    public long end() { return start + len; }

    public boolean contains(long block) { return block >= start && block < end(); }

    /** The part of this extent covering [from, to), which must lie inside it. */
    public Extent slice(long from, long to) {
        return new Extent(from, to - from, type, type == ExtentType.DELALLOC ? -1 : disk + (from - start));
    }

    public Extent withType(ExtentType t) { return new Extent(start, len, t, disk); }

    /** Whether {@code next} can be merged onto the end of this extent. */
    boolean mergeableWith(Extent next) {
        return end() == next.start && type == next.type
                && (type == ExtentType.DELALLOC || disk + len == next.disk);
    }
}
