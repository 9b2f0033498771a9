package org.iomapfs.core.xfs;

import org.iomapfs.core.api.CacheInvalidation;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.block.Blocks;
import org.iomapfs.core.buffered.BufferedIo;
import org.iomapfs.core.extent.Extent;
import org.iomapfs.core.extent.ExtentMap;
import org.iomapfs.core.extent.ExtentType;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.iomap.Iomap;
import org.iomapfs.core.iomap.IomapOps;
import org.iomapfs.core.iomap.IomapType;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.trace.Trace;

/**
 * The filesystem side of iomap, after fs/xfs/xfs_iomap.c: the ops tables handed to the iomap core for
 * buffered writes, page faults, reads and direct writes. Each {@code begin} samples the data fork sequence
 * under the ILOCK as the validity cookie (xfs_iomap_inode_sequence, 304a68b9c63b).
 */
public final class XfsIomapOps {
    private final FsContext ctx;
    private final BufferedIo bio;

    /** xfs_buffered_write_iomap_ops: reserves delalloc over holes; ->iomap_end punches what a failed write reserved. */
    public final IomapOps bufferedWrite;
    /**
     * xfs_page_mkwrite_iomap_ops (118e021b4b66 "xfs: write page faults in iomap are not buffered writes"):
     * the same ->iomap_begin, and no ->iomap_end.
     */
    public final IomapOps pageMkwrite;
    /** xfs_read_iomap_ops. */
    public final IomapOps read;
    /** xfs_direct_write_iomap_ops: allocates unwritten extents for holes and delalloc. */
    public final IomapOps directWrite;

    /** @param bio the iomap core whose delalloc release ->iomap_end calls with this fs's punch */
    public XfsIomapOps(FsContext ctx, BufferedIo bio) {
        this.ctx = ctx;
        this.bio = bio;
        this.bufferedWrite = new IomapOps() {
            @Override
            public Iomap begin(Inode inode, long pos, long length, int flags) {
                return bufferedWriteBegin(inode, pos, length, flags);
            }

            private final End end = XfsIomapOps.this::bufferedWriteEnd;

            @Override
            public End end() { return end; }

            @Override
            public boolean valid(Inode inode, Iomap iomap) { return iomapValid(inode, iomap); }
        };
        this.pageMkwrite = new IomapOps() {
            @Override
            public Iomap begin(Inode inode, long pos, long length, int flags) {
                return bufferedWriteBegin(inode, pos, length, flags);
            }

            @Override
            public boolean valid(Inode inode, Iomap iomap) { return iomapValid(inode, iomap); }
        };
        this.read = this::readBegin;
        this.directWrite = this::directWriteBegin;
    }

    /** xfs_iomap_valid: the cached mapping is valid while the data fork sequence has not moved. */
    boolean iomapValid(Inode inode, Iomap iomap) {
        return iomap.validityCookie == inode.dataFork.seq();
    }

    private Iomap toIomap(Inode inode, Extent e, int flags, long seq) {
        Iomap m = toIomap0(inode, e, flags, seq);
        ctx.trace.emit(Trace.Event.IOMAP_BEGIN, inode.ino, m.offset, m.length, m, m.flags);
        return m;
    }

    private Iomap toIomap0(Inode inode, Extent e, int flags, long seq) {
        int bs = inode.blockSize;
        IomapType type = switch (e.type()) {
            case DELALLOC -> IomapType.DELALLOC;
            case UNWRITTEN -> IomapType.UNWRITTEN;
            case WRITTEN -> IomapType.MAPPED;
        };
        long addr = e.type() == ExtentType.DELALLOC ? Iomap.NULL_ADDR : e.disk() * bs;
        return new Iomap(e.start() * bs, e.len() * bs, type, addr, flags, seq);
    }

    private Iomap hole(Inode inode, long startBlock, long endBlock, long seq) {
        int bs = inode.blockSize;
        return new Iomap(startBlock * bs, (endBlock - startBlock) * bs, IomapType.HOLE, Iomap.NULL_ADDR, 0, seq);
    }

    /** xfs_buffered_write_iomap_begin (no speculative preallocation, no COW fork). */
    Iomap bufferedWriteBegin(Inode inode, long pos, long length, int flags) {
        // FsContext.retryAfterBusyFlush written out, so that a write does not capture a lambda: ENOSPC while
        // freed blocks wait for a commit is retried once after committing
        try {
            return bufferedWriteBeginOnce(inode, pos, length, flags);
        } catch (FsException e) {
            if (e.errno() != Errno.ENOSPC || ctx.alloc.busyBlocks() == 0) {
                throw e;
            }
        }
        ctx.commit(false);
        return bufferedWriteBeginOnce(inode, pos, length, flags);
    }

    private Iomap bufferedWriteBeginOnce(Inode inode, long pos, long length, int flags) {
        ExtentMap fork = inode.dataFork;
        long sb = inode.block(pos);
        long eb = inode.blockUp(pos + length);
        fork.ilock.writeLock().lock();
        try {
            Iomap found = mapped(inode, sb, true);
            if (found != null) {
                return found;
            }
            long end = Math.min(eb, fork.holeEnd(sb));
            if ((flags & IomapOps.ZERO) != 0) {
                // We never need to allocate blocks for zeroing a hole.
                return hole(inode, sb, end, fork.seq());
            }
            long reserved = ctx.store.update(() -> fork.reserveDelalloc(sb, end));
            ctx.metrics.delallocReservedBytes.increment((double) reserved * inode.blockSize);
            Extent d = fork.find(sb);
            return toIomap(inode, d.slice(sb, end), Iomap.F_NEW, fork.seq());
        } finally {
            fork.ilock.writeLock().unlock();
        }
    }

    /**
     * xfs_buffered_write_iomap_end -> iomap_file_buffered_write_punch_delalloc (9c7babf94a0d): after a short
     * write, release the delalloc this write reserved but did not use.
     */
    void bufferedWriteEnd(Inode inode, long pos, long length, long written, int flags, Iomap iomap) {
        if (iomap.type != IomapType.DELALLOC || !iomap.isNew()) {
            return;
        }
        int bs = inode.blockSize;
        long startByte = written == 0 ? Math.floorDiv(pos, bs) * bs : Blocks.roundUp(pos + written, bs);
        long endByte = Blocks.roundUp(pos + length, bs);
        if (startByte >= endByte) {
            return;
        }
        boolean fault = (flags & IomapOps.FAULT) != 0;
        // 198dd8aedee6 "xfs: punching delalloc extents on write failure is racy" + f43dc4dc3eff "iomap: buffered
        // write failure should not truncate the page cache": release only the delalloc no dirty folio sits on,
        // under invalidate_lock. Bug punch-truncates-pagecache: the code before, which truncated the page cache
        // over the range and punched it without invalidate_lock. A fault gets here only with the bug
        // mkwrite-uses-write-ops (118e021b4b66 gave faults no ->iomap_end); it runs the old body too, because
        // the fixed one takes invalidate_lock exclusive and the folio lock, which the fault already holds.
        if (ctx.bugs.buggy(Bug.PUNCH_TRUNCATES_PAGECACHE) || fault) {
            truncateThenPunch(inode, startByte, endByte, fault);
        } else {
            bio.writeDelallocRelease(inode, startByte, endByte, this::punchDelalloc);
        }
    }

    /**
     * The pre-6.2 xfs_buffered_write_iomap_end body: truncate_pagecache_range over the unused range, then
     * xfs_bmap_punch_delalloc_range, holding only what the caller holds (i_rwsem for write(), invalidate_lock
     * shared for a fault). Whatever another writer or a fault put in that range is thrown away. A folio the
     * calling fault holds locked cannot be truncated (the kernel would wait for it forever) and is skipped;
     * its delalloc is punched all the same.
     */
    private void truncateThenPunch(Inode inode, long startByte, long endByte, boolean fault) {
        boolean harmed = false;
        for (Folio f : inode.mapping.folios(startByte / Folio.PAGE_SIZE, (endByte - 1) / Folio.PAGE_SIZE)) {
            harmed |= f.isDirty();
        }
        ctx.trace.emit(Trace.Event.TRUNCATE_PAGECACHE, inode.ino, startByte, endByte - startByte, fault ? "from a fault" : "");
        inode.mapping.truncateRangeExceptHeld(startByte, endByte - 1);
        long punched = punchDelalloc(inode, startByte, endByte);
        boolean fired = fault ? punched > 0 : harmed;
        if (fired) {
            ctx.bugs.fired(fault ? Bug.MKWRITE_USES_WRITE_OPS : Bug.PUNCH_TRUNCATES_PAGECACHE);
        }
        // The kernel above a FUSE daemon may still cache what was thrown away here (or, for the folio a fault
        // holds, what now has no block behind it): it must read the range from the engine again.
        ctx.invalidateCached(inode.ino, startByte, endByte - startByte,
            fired ? CacheInvalidation.Cause.BUG_FIRED : CacheInvalidation.Cause.ENGINE_TRUNCATE);
    }

    /** The extent at block {@code sb} as an iomap (a delalloc one only if {@code delalloc}), or null; under the ILOCK. */
    private Iomap mapped(Inode inode, long sb, boolean delalloc) {
        Extent e = inode.dataFork.find(sb);
        if (e == null || (!delalloc && e.type() == ExtentType.DELALLOC)) {
            return null;
        }
        return toIomap(inode, e, 0, inode.dataFork.seq());
    }

    /** xfs_read_iomap_begin: reports what is there, delalloc included; never allocates. */
    Iomap readBegin(Inode inode, long pos, long length, int flags) {
        ExtentMap fork = inode.dataFork;
        long sb = inode.block(pos);
        long eb = inode.blockUp(pos + length);
        fork.ilock.readLock().lock();
        try {
            Iomap found = mapped(inode, sb, true);
            return found != null ? found : hole(inode, sb, Math.min(eb, fork.holeEnd(sb)), fork.seq());
        } finally {
            fork.ilock.readLock().unlock();
        }
    }

    /**
     * xfs_direct_write_iomap_begin: holes and delalloc get unwritten blocks (xfs_iomap_write_direct), IOMAP_F_NEW.
     * The extent lookup takes the ILOCK shared, as xfs_ilock_for_iomap does (XFS_ILOCK_SHARED unless the extent
     * list must be read in or the inode is reflinked): over written or unwritten extents concurrent direct writes
     * then map in parallel. Only allocation (allocate_blocks: xfs_iunlock, then xfs_iomap_write_direct, which takes
     * XFS_ILOCK_EXCL in its transaction) takes it exclusive, and looks again, since the extent may have changed
     * between the two.
     */
    Iomap directWriteBegin(Inode inode, long pos, long length, int flags) {
        ExtentMap fork = inode.dataFork;
        long sb = inode.block(pos);
        long eb = inode.blockUp(pos + length);
        fork.ilock.readLock().lock();
        try {
            Iomap found = mapped(inode, sb, false);
            if (found != null) {
                return found;
            }
        } finally {
            fork.ilock.readLock().unlock();
        }
        return ctx.retryAfterBusyFlush(() -> {
            fork.ilock.writeLock().lock();
            try {
                Extent e = fork.find(sb);
                if (e != null && e.type() != ExtentType.DELALLOC) {
                    return toIomap(inode, e, 0, fork.seq());
                }
                long end = Math.min(eb, e != null ? e.end() : fork.holeEnd(sb));
                ctx.store.update(() -> fork.allocUnwritten(sb, end));
                Extent a = fork.find(sb);
                return toIomap(inode, a.slice(sb, Math.min(end, a.end())), Iomap.F_NEW, fork.seq());
            } finally {
                fork.ilock.writeLock().unlock();
            }
        });
    }

    /** xfs_buffered_write_delalloc_punch: removes only delalloc in [start, end) bytes; returns the blocks punched. */
    public long punchDelalloc(Inode inode, long startByte, long endByte) {
        ExtentMap fork = inode.dataFork;
        fork.ilock.writeLock().lock();
        try {
            long n = ctx.store.update(() -> fork.punchDelalloc(inode.block(startByte), inode.blockUp(endByte)));
            ctx.metrics.delallocPunchedBytes.increment((double) n * inode.blockSize);
            ctx.trace.emit(Trace.Event.PUNCH, inode.ino, startByte, endByte - startByte, "blocks=" + n);
            return n;
        } finally {
            fork.ilock.writeLock().unlock();
        }
    }
}
