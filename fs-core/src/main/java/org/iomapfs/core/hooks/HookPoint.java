package org.iomapfs.core.hooks;

/**
 * Named points in the engine where tests and fault injection can act. Each fires in the thread doing the
 * work, at the place its name says, with the inode and file position concerned.
 */
public enum HookPoint {
    /** A read of a regular file (Vfs.read), before any lock is taken (inject/block_ino blocks here). */
    READ_BEGIN,
    /** Buffered write: after ->iomap_begin returned, before the first folio is locked (write_delay_ms). */
    WRITE_AFTER_BEGIN,
    /** Buffered write: the folio is locked and the cached iomap was just checked with ->iomap_valid. */
    WRITE_BEGIN_VALIDATED,
    /** Buffered write: about to call ->iomap_end after an iteration. */
    WRITE_BEFORE_END,
    /** Page fault: the folio is locked and dirtied by page_mkwrite, before the store into it. */
    MKWRITE_DIRTIED,
    /** Writeback: a block was mapped by ->map_blocks, before it is added to an ioend (wb_delay_ms). */
    WB_MAPPED,
    /** Writeback: an ioend's data was written to the image, before completion runs. */
    WB_SUBMITTED,
    /** I/O completion: unwritten extents were converted, before writeback ends on the folios. */
    IOEND_CONVERTED,
    /** I/O completion: writeback has ended on every folio of an ioend. */
    IOEND_DONE,
    /** Reclaim: a folio was evicted (fires with the folio's inode, if it is still in core). */
    RECLAIM_EVICTED,
    /** Direct I/O: the page cache range was flushed and invalidated, before the mapping is made. */
    DIO_INVALIDATED,
    /** Direct read into a mapping: the destination pages are pinned, before the I/O fills and redirties them. */
    DIO_PAGES_PINNED,
    /**
     * Path lookup: a path missing from the dentry cache was walked and the namespace lock released, before the
     * result is cached (fires with the inode found and the rename sequence the walk is tagged with as pos).
     */
    DCACHE_FILL
}
