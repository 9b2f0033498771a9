package org.iomapfs.core.extent;

/** States of a data-fork extent. Holes are the absence of an extent. */
public enum ExtentType {
    /** Reserved in memory, no blocks yet (xfs delalloc, isnullstartblock). Never persisted. */
    DELALLOC,
    /** Allocated, reads as zeroes until converted at I/O completion (XFS_EXT_UNWRITTEN). */
    UNWRITTEN,
    /** Allocated and holding data (XFS_EXT_NORM). */
    WRITTEN
}
