package org.iomapfs.core.store;

/**
 * A real (allocated) data-fork extent as persisted: {@code blockCount} file blocks starting at file block
 * {@code fileBlock}, stored at image block {@code diskBlock}. Delalloc extents live only in memory and are
 * never persisted, as in XFS where delalloc exists only in the incore extent tree.
 */
public record ExtentRecord(long fileBlock, long blockCount, long diskBlock, boolean unwritten) { }
