package org.iomapfs.core.xfs;

import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.extent.Extent;
import org.iomapfs.core.extent.ExtentMap;
import org.iomapfs.core.extent.ExtentType;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.iomap.Ioend;
import org.iomapfs.core.iomap.IomapWritebackOps;
import org.iomapfs.core.iomap.IomapWritepageCtx;
import org.iomapfs.core.pagecache.Folio;

/**
 * xfs_writeback_ops, after fs/xfs/xfs_aops.c: mapping dirty blocks for writeback (delalloc converted to
 * unwritten), deferring the completion of unwritten ioends to the end_io worker, which converts them to
 * written, and discarding the delalloc of a folio that could not be mapped.
 */
public final class XfsAops implements IomapWritebackOps {
    private final FsContext ctx;

    public XfsAops(FsContext ctx) {
        this.ctx = ctx;
    }

    /**
     * xfs_map_blocks: reuse the cached mapping if it covers pos and the data fork sequence has not moved
     * (xfs_imap_valid); otherwise look up again, converting delalloc to unwritten blocks
     * (xfs_bmapi_convert_delalloc). Leaves {@code wpc.map} null for a hole.
     */
    @Override
    public void mapBlocks(IomapWritepageCtx wpc, Inode inode, long pos) {
        ExtentMap fork = inode.dataFork;
        long block = inode.block(pos);
        if (wpc.dataSeq == fork.seq()) {
            if (wpc.map != null && wpc.map.contains(block)) {
                return;
            }
            if (wpc.map == null && block >= wpc.holeStart && block < wpc.holeEnd) {
                return;
            }
        }
        fork.ilock.readLock().lock();
        Extent e;
        try {
            e = fork.find(block);
            wpc.dataSeq = fork.seq();
            if (e == null) {
                cacheHole(wpc, fork, block);
                return;
            }
        } finally {
            fork.ilock.readLock().unlock();
        }
        if (e.type() == ExtentType.DELALLOC) {
            fork.ilock.writeLock().lock();
            try {
                Extent cur = fork.find(block);
                e = cur != null && cur.type() == ExtentType.DELALLOC
                        ? ctx.store.update(() -> fork.convertDelalloc(block)) : cur;
                wpc.dataSeq = fork.seq();
                if (e == null) {
                    cacheHole(wpc, fork, block);
                    return;
                }
            } finally {
                fork.ilock.writeLock().unlock();
            }
        }
        wpc.map = e;
    }

    /** Remembers that {@code block} lies in a hole, up to the next extent (ILOCK held). */
    private static void cacheHole(IomapWritepageCtx wpc, ExtentMap fork, long block) {
        wpc.map = null;
        wpc.holeStart = block;
        wpc.holeEnd = fork.holeEnd(block);
    }

    /**
     * xfs_submit_ioend: an ioend over unwritten blocks needs a transaction at completion
     * (xfs_ioend_needs_wq_completion), so its bio ends in xfs_end_bio, which queues it for xfs_end_io.
     */
    @Override
    public boolean submit(Ioend io) {
        return io.unwritten;
    }

    /** xfs_end_ioend: convert the ioend's unwritten extents to written (xfs_iomap_write_unwritten). */
    @Override
    public void endIo(Ioend io) {
        Inode inode = io.inode;
        ExtentMap fork = inode.dataFork;
        fork.ilock.writeLock().lock();
        try {
            ctx.store.update(() -> {
                fork.convertUnwritten(inode.block(io.fileOffset), inode.blockUp(io.fileOffset + io.length));
                inode.persistIfDirty(ctx.store);
            });
        } catch (RuntimeException e) {
            io.error = true;
            System.err.println("iomapfs: unwritten conversion failed for " + inode + ": " + e);
        } finally {
            fork.ilock.writeLock().unlock();
        }
    }

    /** xfs_discard_folio: punch the delalloc behind the part of the folio that could not be mapped. */
    @Override
    public void discardFolio(Inode inode, Folio folio, long pos) {
        ExtentMap fork = inode.dataFork;
        fork.ilock.writeLock().lock();
        try {
            ctx.store.update(() -> fork.punchDelalloc(inode.block(pos), inode.blockUp(folio.pos() + folio.size())));
        } finally {
            fork.ilock.writeLock().unlock();
        }
        // e9c3a8e820ed "iomap: don't invalidate folios after writeback errors" removed the
        // iomap_invalidate_folio at the end of xfs_discard_folio: the folio keeps its per-block state. Bug
        // mkwrite-not-uptodate: before it, the state went here, and iomap_writepage_map cleared uptodate.
        if (ctx.bugs.buggy(Bug.MKWRITE_NOT_UPTODATE)) {
            folio.detachState();
        }
    }
}
