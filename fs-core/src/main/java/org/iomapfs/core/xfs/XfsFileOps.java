package org.iomapfs.core.xfs;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Whence;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.buffered.BufferedIo;
import org.iomapfs.core.extent.Extent;
import org.iomapfs.core.extent.ExtentMap;
import org.iomapfs.core.extent.ExtentType;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.iomap.IomapOps;
import org.iomapfs.core.pagecache.FileRaState;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageFaultDeadlock;
import org.iomapfs.core.trace.Trace;
import org.iomapfs.core.uio.IovIter;
import org.iomapfs.core.uio.KvecIter;
import org.iomapfs.core.writeback.Writeback;

import java.nio.ByteBuffer;

/**
 * File operations with their locking, after fs/xfs/xfs_file.c and xfs_iops.c: buffered write and read,
 * truncate (xfs_setattr_size), fallocate (mode 0, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE) and SEEK_DATA/SEEK_HOLE.
 */
public final class XfsFileOps {
    private final FsContext ctx;
    private final BufferedIo bio;
    private final XfsIomapOps ops;
    private final Writeback writeback;

    public XfsFileOps(FsContext ctx, BufferedIo bio, XfsIomapOps ops, Writeback writeback) {
        this.ctx = ctx;
        this.bio = bio;
        this.ops = ops;
        this.writeback = writeback;
    }

    /** xfs_file_buffered_read: i_rwsem shared; {@code ra} is the open file's readahead state. */
    public int read(Inode inode, FileRaState ra, long pos, ByteBuffer dst) {
        KvecIter iov = KvecIter.acquire(dst);
        try {
            int n = read(inode, ra, pos, iov);
            dst.position(dst.position() + n);
            return n;
        } finally {
            iov.release();
        }
    }

    public int read(Inode inode, FileRaState ra, long pos, IovIter dst) {
        inode.iRwsem.readLock().lock();
        try {
            return bio.read(inode, ra, pos, dst, ops.read);
        } finally {
            inode.iRwsem.readLock().unlock();
        }
    }

    /** xfs_file_buffered_write: i_rwsem exclusive, zero the gap past EOF (xfs_file_write_checks), write. */
    public long write(Inode inode, long pos, ByteBuffer src) {
        KvecIter iov = KvecIter.acquire(src);
        try {
            long n = write(inode, pos, iov);
            src.position(src.position() + (int) n);
            return n;
        } finally {
            iov.release();
        }
    }

    public long write(Inode inode, long pos, IovIter src) {
        inode.iRwsem.writeLock().lock();
        try {
            long size = inode.size();
            if (pos > size) {
                bio.zeroRange(inode, size, pos - size, ops.bufferedWrite);
            }
            long sizeBefore = inode.size();
            long n = bio.write(inode, pos, src, ops.bufferedWrite);
            // A write that extends the file puts the new size in the metadata now; one that only changed the
            // timestamps leaves them to the next commit, which persists every inode whose attributes changed
            // (xfs_vn_update_time logs them in memory; nothing is durable before a commit either way).
            if (inode.size() != sizeBefore) {
                persistSize(inode);
            }
            return n;
        } finally {
            inode.iRwsem.writeLock().unlock();
        }
    }

    /** A FUSE writepage, replayed as a write fault: __xfs_filemap_fault takes invalidate_lock shared (never i_rwsem). */
    public int pageWrite(Inode inode, long pos, ByteBuffer src) {
        int n;
        inode.invalidateLock.readLock().lock();
        try {
            n = pageMkwriteStore(inode, pos, src, faultOps());
        } finally {
            inode.invalidateLock.readLock().unlock();
        }
        // fault_dirty_shared_page: a fault that dirtied a folio is throttled after the fault is done
        ctx.cache.balanceDirty();
        return n;
    }

    /**
     * The replay behind {@link #pageWrite} (the daemon's stand-in for the CPU, not iomap core): the kernel wrote
     * back a page that a process dirtied through a shared mapping, and the daemon replays it as a write fault
     * followed by the CPU's store. Inside page_mkwrite the daemon copies the
     * payload of each mapping; an injected short copy-in (copyin_fail) there is what ->iomap_end is told was
     * written, as XFS_ERRTAG_DROP_WRITES once made it see a failed write, while the iteration still covers the
     * whole folio as iomap_page_mkwrite's always does (see 118e021b4b66: it never fails on the current mapping).
     * The whole payload is then stored into the still-locked folio. Bytes past EOF are not stored (the kernel
     * does not write them back). Caller holds invalidate_lock shared. Returns the bytes consumed.
     */
    private int pageMkwriteStore(Inode inode, long pos, ByteBuffer src, IomapOps faultOps) {
        int total = 0;
        while (src.hasRemaining()) {
            // page by page, as the kernel writes back a FUSE file's pages; a large folio is found at each of them
            long idx = pos / Folio.PAGE_SIZE;
            int want = (int) Math.min(Folio.PAGE_SIZE - pos % Folio.PAGE_SIZE, src.remaining());
            int n = (int) Math.max(0, Math.min(want, inode.size() - pos));
            // the payload is read straight from the caller's buffer (its position moves only once it is stored)
            int base = src.position();
            long at = pos;
            Folio folio = bio.pageMkwrite(inode, idx, faultOps, ops.read, (it, f) -> {
                // the part of the payload inside this iteration's mapping
                long from = Math.max(it.pos, at);
                long to = Math.min(it.pos + it.length(), at + n);
                if (from >= to) {
                    return it.length();
                }
                int len = (int) (to - from);
                int got = Math.max(0, Math.min(len, ctx.hooks.copyInAllowed(inode, from, len)));
                src.get(base + (int) (from - at), f.data(), (int) (from - f.pos()), got);
                return got < len ? from + got - it.pos : it.length();
            });
            if (folio == null) {
                break;
            }
            try {
                ctx.hooks.fire(HookPoint.MKWRITE_DIRTIED, inode, pos);
                src.get(base, folio.data(), (int) (pos - folio.pos()), n);
                src.position(src.position() + want);
                total += want;
                pos += want;
            } finally {
                folio.unlock();
            }
        }
        if (total > 0) {
            inode.touchMtime();
        }
        return total;
    }

    /**
     * The ops __xfs_filemap_fault hands to iomap_page_mkwrite. 118e021b4b66 "xfs: write page faults in iomap
     * are not buffered writes" gave faults xfs_page_mkwrite_iomap_ops, with no ->iomap_end. Bug
     * mkwrite-uses-write-ops: before it they used xfs_buffered_write_iomap_ops, whose ->iomap_end punches the
     * delalloc a short iteration reserved.
     */
    private IomapOps faultOps() {
        return ctx.bugs.buggy(Bug.MKWRITE_USES_WRITE_OPS) ? ops.bufferedWrite : ops.pageMkwrite;
    }

    /**
     * A write fault from an in-process mapping: do_wp_page on a folio still mapped read-only ({@code mapped},
     * straight to page_mkwrite), or a full fault (filemap_fault, then page_mkwrite). Returns the folio locked
     * and dirty, or null beyond EOF (SIGBUS).
     */
    public Folio writeFault(Inode inode, long idx, Folio mapped) {
        inode.invalidateLock.readLock().lock();
        try {
            if (mapped != null) {
                mapped.lock();
                if (!mapped.isRemoved()) {
                    return bio.mkwriteLocked(inode, mapped, faultOps(), null) ? mapped : null;
                }
                mapped.unlock();
            }
            return bio.pageMkwrite(inode, idx, faultOps(), ops.read, null);
        } finally {
            inode.invalidateLock.readLock().unlock();
        }
    }

    /**
     * A read fault (filemap_fault): the folio uptodate, locked to check it is still in the file, then unlocked.
     * Throws {@link PageFaultDeadlock} if the faulting thread already holds that lock. Null beyond EOF.
     */
    public Folio readFault(Inode inode, long idx) {
        while (true) {
            if (idx * Folio.PAGE_SIZE >= inode.size()) {
                return null;
            }
            Folio f = inode.mapping.find(idx);
            if (f != null && f.lockedByCurrentThread()) {
                throw new PageFaultDeadlock("read fault on " + f + ", which this thread holds locked");
            }
            f = bio.getUptodateFolio(inode, idx, ops.read);
            if (f.lockedByCurrentThread()) {
                throw new PageFaultDeadlock("read fault on " + f + ", which this thread holds locked");
            }
            f.lock();
            boolean gone = f.isRemoved();
            f.unlock();
            if (!gone) {
                return f;
            }
        }
    }

    private void persistSize(Inode inode) {
        ctx.store.update(() -> inode.persistIfDirty(ctx.store));
    }

    /** xfs_setattr_size: i_rwsem and invalidate_lock exclusive. */
    public void truncate(Inode inode, long newSize) {
        if (newSize < 0) {
            throw new FsException(Errno.EINVAL, "negative size " + newSize);
        }
        inode.iRwsem.writeLock().lock();
        inode.invalidateLock.writeLock().lock();
        try {
            long oldSize = inode.size();
            ctx.trace.emit(Trace.Event.TRUNCATE_PAGECACHE, inode.ino, Math.min(oldSize, newSize), Math.abs(newSize - oldSize),
                    "setattr size " + oldSize + " -> " + newSize);
            if (newSize > oldSize) {
                bio.zeroRange(inode, oldSize, newSize - oldSize, ops.bufferedWrite);
            } else {
                bio.truncatePage(inode, newSize, ops.bufferedWrite);
            }
            // The zeroed EOF block must reach the image before blocks past it go away.
            writeback.writeAndWait(inode, Math.min(oldSize, newSize), Math.max(oldSize, newSize));
            long keepBlocks = inode.blockUp(newSize);
            inode.mapping.truncateRange(keepBlocks * inode.blockSize, Long.MAX_VALUE);
            // truncate_pagecache: the partial folio past newSize is zeroed in the cache.
            if (newSize < keepBlocks * inode.blockSize) {
                inode.mapping.truncateRange(newSize, keepBlocks * inode.blockSize - 1);
            }
            ExtentMap fork = inode.dataFork;
            fork.ilock.writeLock().lock();
            try {
                ctx.store.update(() -> {
                    inode.setSize(newSize);
                    if (newSize < oldSize) {
                        fork.punch(keepBlocks, Long.MAX_VALUE);
                    }
                    inode.touchMtime();
                    inode.persist(ctx.store);
                });
            } finally {
                fork.ilock.writeLock().unlock();
            }
        } finally {
            inode.invalidateLock.writeLock().unlock();
            inode.iRwsem.writeLock().unlock();
        }
    }

    /** xfs_file_fallocate. */
    public void fallocate(Inode inode, int mode, long offset, long len) {
        if (offset < 0 || len <= 0) {
            throw new FsException(Errno.EINVAL, "fallocate range " + offset + "+" + len + " is invalid");
        }
        int supported = Falloc.KEEP_SIZE | Falloc.PUNCH_HOLE | Falloc.ZERO_RANGE;
        if ((mode & ~supported) != 0 || ((mode & Falloc.PUNCH_HOLE) != 0 && (mode & Falloc.KEEP_SIZE) == 0)
                || ((mode & Falloc.PUNCH_HOLE) != 0 && (mode & Falloc.ZERO_RANGE) != 0)) {
            throw new FsException(Errno.EOPNOTSUPP, "fallocate mode 0x" + Integer.toHexString(mode) + " is not supported");
        }
        inode.iRwsem.writeLock().lock();
        inode.invalidateLock.writeLock().lock();
        try {
            if ((mode & Falloc.PUNCH_HOLE) != 0) {
                freeFileSpace(inode, offset, len);
                return;
            }
            if ((mode & Falloc.ZERO_RANGE) != 0) {
                freeFileSpace(inode, offset, len);
            }
            int bs = inode.blockSize;
            long startBlock = offset / bs;
            long endBlock = inode.blockUp(offset + len);
            allocFileSpace(inode, startBlock, endBlock);
            if ((mode & Falloc.KEEP_SIZE) == 0 && offset + len > inode.size()) {
                // xfs_vn_setattr_size: growing the file zeroes the old EOF block tail like truncate up.
                bio.zeroRange(inode, inode.size(), offset + len - inode.size(), ops.bufferedWrite);
                ctx.store.update(() -> {
                    inode.setSize(offset + len);
                    inode.persist(ctx.store);
                });
            }
            inode.touchMtime();
        } finally {
            inode.invalidateLock.writeLock().unlock();
            inode.iRwsem.writeLock().unlock();
        }
    }

    private void allocFileSpace(Inode inode, long startBlock, long endBlock) {
        ExtentMap fork = inode.dataFork;
        ctx.retryAfterBusyFlush(() -> {
            fork.ilock.writeLock().lock();
            try {
                return ctx.store.update(() -> fork.allocUnwritten(startBlock, endBlock));
            } finally {
                fork.ilock.writeLock().unlock();
            }
        });
    }

    /**
     * xfs_free_file_space: flush and drop the page cache over the range (xfs_flush_unmap_range), unmap the
     * whole blocks, then zero the partial blocks at either end through the page cache.
     */
    private void freeFileSpace(Inode inode, long offset, long len) {
        int bs = inode.blockSize;
        long rstart = Math.floorDiv(offset, Math.max(bs, 4096)) * Math.max(bs, 4096);
        long rend = (offset + len + Math.max(bs, 4096) - 1) / Math.max(bs, 4096) * Math.max(bs, 4096) - 1;
        ctx.trace.emit(Trace.Event.TRUNCATE_PAGECACHE, inode.ino, offset, len, "free file space");
        writeback.writeAndWait(inode, rstart, rend);
        inode.mapping.truncateRange(rstart, rend);
        long startBlock = inode.blockUp(offset);
        long endBlock = (offset + len) / bs;
        if (endBlock > startBlock) {
            ExtentMap fork = inode.dataFork;
            fork.ilock.writeLock().lock();
            try {
                ctx.store.update(() -> fork.punch(startBlock, endBlock));
            } finally {
                fork.ilock.writeLock().unlock();
            }
        }
        long size = inode.size();
        if (offset >= size) {
            return;
        }
        long zlen = Math.min(len, size - offset);
        bio.zeroRange(inode, offset, zlen, ops.bufferedWrite);
    }

    /** iomap_seek_data / iomap_seek_hole with xfs_seek_iomap_begin. */
    public long seek(Inode inode, long offset, int whence) {
        if (whence != Whence.SEEK_DATA && whence != Whence.SEEK_HOLE) {
            throw new FsException(Errno.EINVAL, "lseek whence " + whence + " is not SEEK_DATA or SEEK_HOLE");
        }
        inode.iRwsem.readLock().lock();
        try {
            long size = inode.size();
            if (offset < 0 || offset >= size) {
                throw new FsException(Errno.ENXIO, "offset " + offset + " is at or past EOF " + size);
            }
            boolean data = whence == Whence.SEEK_DATA;
            int bs = inode.blockSize;
            long pos = offset;
            ExtentMap fork = inode.dataFork;
            while (pos < size) {
                long block = pos / bs;
                Extent e;
                long segEnd;
                fork.ilock.readLock().lock();
                try {
                    e = fork.find(block);
                    segEnd = Math.min(size, e != null ? e.end() * bs : Math.min(fork.holeEnd(block), Long.MAX_VALUE / bs) * bs);
                } finally {
                    fork.ilock.readLock().unlock();
                }
                if (e == null) {
                    if (!data) {
                        return pos;
                    }
                } else if (e.type() == ExtentType.UNWRITTEN) {
                    long hit = inode.mapping.seekHoleData(pos, segEnd, data);
                    if (hit >= 0 && hit < segEnd) {
                        return hit;
                    }
                } else if (data) {
                    return pos;
                }
                pos = segEnd;
            }
            if (data) {
                throw new FsException(Errno.ENXIO, "no data at or after offset " + offset);
            }
            return size;
        } finally {
            inode.iRwsem.readLock().unlock();
        }
    }
}
