package org.iomapfs.core.iomap;

import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.pagecache.Folio;

/**
 * struct iomap_writeback_ops (include/linux/iomap.h, Documentation/filesystems/iomap/operations.rst): the
 * filesystem's side of writeback, as the table stood before 6.17 folded it into ->writeback_range and
 * ->writeback_submit. The iomap core (iomap_writepage_map, iomap_finish_ioend) stays in {@code Writeback}.
 */
public interface IomapWritebackOps {
    /**
     * ->map_blocks: fills {@code wpc} with the mapping of the block at {@code pos}, reusing the cached one while
     * it is still valid; a hole leaves {@code wpc.map} null. Throws on failure (the folio is then discarded).
     */
    void mapBlocks(IomapWritepageCtx wpc, Inode inode, long pos);

    /**
     * ->submit_ioend (->prepare_ioend before it): the hook as the ioend's I/O is submitted. Returns whether
     * its completion must run in the filesystem's end_io worker ({@link #endIo}) instead of straight in the
     * bio's completion, as xfs_submit_ioend installs xfs_end_bio for ioends that need a transaction.
     */
    boolean submit(Ioend io);

    /**
     * The end_io work the submit hook deferred (xfs_end_io -> xfs_end_ioend), run in the completion worker
     * before the iomap core ends writeback on the ioend's folios; a failure sets {@code io.error}.
     */
    void endIo(Ioend io);

    /**
     * ->discard_folio: the blocks of {@code folio} from {@code pos} on could not be mapped; drop what the
     * filesystem reserved for them. Called with the folio locked.
     */
    void discardFolio(Inode inode, Folio folio, long pos);
}
