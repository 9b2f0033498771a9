package org.iomapfs.core.dio;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.extent.ExtentMap;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.iomap.IomapIter;
import org.iomapfs.core.iomap.IomapOps;
import org.iomapfs.core.iomap.IomapType;
import org.iomapfs.core.writeback.Writeback;

import java.nio.ByteBuffer;

/**
 * iomap_dio_rw for XFS: flush and invalidate the page-cache range, then move data straight between the
 * caller's buffer and the image. Writes into holes or delalloc get unwritten blocks, converted to written at
 * completion together with any size change (xfs_dio_write_end_io). Reads of holes, delalloc and unwritten
 * extents return zeroes. Offsets and lengths must be block aligned (EINVAL otherwise), since sub-block
 * direct I/O zeroing is not modelled.
 */
public final class DirectIo {
    private final FsContext ctx;
    private final Writeback writeback;

    public DirectIo(FsContext ctx, Writeback writeback) {
        this.ctx = ctx;
        this.writeback = writeback;
    }

    private void checkAligned(Inode inode, long pos, int len) {
        int bs = inode.blockSize;
        if (pos % bs != 0 || len % bs != 0) {
            throw new FsException(Errno.EINVAL, "direct I/O at " + pos + " length " + len + " is not aligned to the "
                    + bs + "-byte block size");
        }
    }

    /** Zeroes for reads of holes, delalloc and unwritten extents; never written. */
    private static final byte[] ZEROES = new byte[64 << 10];

    /**
     * [off, off + len) of the caller's buffer as a buffer of its own, for the image to read into or write from
     * directly: the data of a direct I/O goes between the FUSE request buffer and the image with no array in
     * between (a new 4 KiB array per I/O cost more in first-touch page faults of the heap than the copy itself).
     */
    private static ByteBuffer window(ByteBuffer b, int off, int len) {
        ByteBuffer w = b.duplicate();
        w.limit(off + len).position(off);
        return w;
    }

    private static void zero(ByteBuffer dst, int off, int len) {
        for (int done = 0; done < len; ) {
            int n = Math.min(len - done, ZEROES.length);
            dst.put(off + done, ZEROES, 0, n);
            done += n;
        }
    }

    /** xfs_file_dio_read: i_rwsem shared. */
    public int read(Inode inode, long pos, ByteBuffer dst, IomapOps readOps) {
        int len = dst.remaining();
        checkAligned(inode, pos, len);
        inode.iRwsem.readLock().lock();
        try {
            long size = inode.size();
            if (pos >= size || len == 0) {
                return 0;
            }
            int n = (int) Math.min(len, size - pos);
            writeback.writeAndWait(inode, pos, pos + n - 1);
            ctx.hooks.fire(HookPoint.DIO_INVALIDATED, inode, pos);
            int base = dst.position();
            IomapIter iter = new IomapIter(inode, pos, n, IomapOps.DIRECT, readOps, ctx.metrics);
            long done = iter.run(it -> {
                int off = base + (int) (it.pos - pos);
                int l = (int) it.length();
                if (it.iomap.type == IomapType.MAPPED) {
                    ctx.dev.read(it.iomap.addrOf(it.pos), window(dst, off, l));
                } else {
                    zero(dst, off, l);
                }
                return l;
            });
            dst.position(base + (int) done);
            ctx.accessed(inode);
            return (int) done;
        } finally {
            inode.iRwsem.readLock().unlock();
        }
    }

    /** xfs_file_dio_write_aligned: i_rwsem shared, exclusive when the write extends the file. */
    public int write(Inode inode, long pos, ByteBuffer src, IomapOps directWriteOps) {
        int len = src.remaining();
        checkAligned(inode, pos, len);
        if (len == 0) {
            return 0;
        }
        boolean extending = pos + len > inode.size();
        var lock = extending ? inode.iRwsem.writeLock() : inode.iRwsem.readLock();
        lock.lock();
        try {
            if (!extending && pos + len > inode.size()) {
                throw new FsException(Errno.EAGAIN, "file shrank under a direct write");
            }
            long end = pos + len - 1;
            // kiocb_invalidate_pages: a page that stays dirty or mapped would make the kernel fall back to a
            // buffered write; here we write back and retry a few times, then report EBUSY.
            int tries = 0;
            do {
                writeback.writeAndWait(inode, pos, end);
                if (inode.mapping.invalidateRange(pos, end)) {
                    break;
                }
                if (++tries > 16) {
                    throw new FsException(Errno.EBUSY, "page cache over [" + pos + "," + end + "] stays dirty or mapped");
                }
            } while (true);
            ctx.hooks.fire(HookPoint.DIO_INVALIDATED, inode, pos);
            int base = src.position();
            boolean[] unwritten = new boolean[1];
            IomapIter iter = new IomapIter(inode, pos, len, IomapOps.WRITE | IomapOps.DIRECT, directWriteOps, ctx.metrics);
            long done = iter.run(it -> {
                int l = (int) it.length();
                ctx.dev.write(it.iomap.addrOf(it.pos), window(src, base + (int) (it.pos - pos), l));
                // IOMAP_DIO_UNWRITTEN: only such mappings need converting at completion
                unwritten[0] |= it.iomap.type == IomapType.UNWRITTEN;
                return l;
            });
            complete(inode, pos, done, unwritten[0]);
            invalidatePostDirectWrite(inode, pos, done);
            src.position(base + (int) done);
            inode.touchMtime();
            return (int) done;
        } finally {
            lock.unlock();
        }
    }

    /**
     * iomap_dio_complete -> kiocb_invalidate_post_direct_write (mm/filemap.c): a buffered read runs beside a
     * direct write (both hold i_rwsem shared), so after the invalidation above and before the data reached the
     * image it may have read the old blocks into new folios, which would serve stale data until evicted
     * (fstests generic/451). Readahead adds its folios locked before reading them, so this pass waits for such
     * reads and drops what they cached. It runs after the unwritten conversion (complete), as iomap does, so a
     * racing reader cannot cache zeroes either. If a folio cannot go (dirtied or mapped meanwhile), the kernel's
     * dio_warn_stale_pagecache records EIO in the mapping's wb_err, and so does this.
     */
    private void invalidatePostDirectWrite(Inode inode, long pos, long done) {
        if (done <= 0) {
            return;
        }
        if (!inode.mapping.invalidateRange(pos, pos + done - 1)) {
            inode.mapping.wbErr.set(Errno.EIO.code);
            System.err.println("iomapfs: page cache invalidation failure on direct I/O to inode " + inode.ino
                    + " at " + pos + ": possible data corruption due to collision with buffered I/O");
        }
    }

    /**
     * xfs_dio_write_end_io: unwritten -> written and the new size, in one transaction. An overwrite of written
     * blocks inside EOF needs neither, so, as in XFS, it runs no transaction: the new mtime (touchMtime) reaches
     * the store with the next commit, like any other timestamp-only change.
     */
    private void complete(Inode inode, long pos, long done, boolean unwritten) {
        if (done <= 0 || (!unwritten && pos + done <= inode.size())) {
            return;
        }
        ExtentMap fork = inode.dataFork;
        fork.ilock.writeLock().lock();
        try {
            ctx.store.update(() -> {
                fork.convertUnwritten(inode.block(pos), inode.blockUp(pos + done));
                if (pos + done > inode.size()) {
                    inode.setSize(pos + done);
                }
                inode.persist(ctx.store);
            });
        } finally {
            fork.ilock.writeLock().unlock();
        }
    }
}
