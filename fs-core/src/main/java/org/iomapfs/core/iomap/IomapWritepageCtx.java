package org.iomapfs.core.iomap;

import org.iomapfs.core.extent.Extent;

/**
 * The mapping part of struct iomap_writepage_ctx, which ->map_blocks fills and the writeback core reads: the
 * extent cached for the blocks being written, or null over a hole with the hole's block range, and the data
 * fork sequence it was read at (xfs_writepage_ctx's data_seq, kept here rather than in a subclass).
 */
public class IomapWritepageCtx {
    public Extent map;
    public long holeStart = -1;
    public long holeEnd = -1;
    public long dataSeq = -1;
}
