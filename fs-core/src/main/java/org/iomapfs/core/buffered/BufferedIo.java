package org.iomapfs.core.buffered;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.block.Blocks;
import org.iomapfs.core.api.CacheInvalidation;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.iomap.Iomap;
import org.iomapfs.core.iomap.IomapIter;
import org.iomapfs.core.iomap.IomapOps;
import org.iomapfs.core.iomap.IomapType;
import org.iomapfs.core.pagecache.AddressSpace;
import org.iomapfs.core.pagecache.FileRaState;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageFaultDeadlock;
import org.iomapfs.core.trace.Trace;
import org.iomapfs.core.uio.IovIter;

import java.util.Arrays;

/**
 * The iomap buffered I/O core (fs/iomap/buffered-io.c, 6.6 era, with the 6.2 stale-iomap fixes): reads
 * and readahead, write_begin/copy/write_end, zeroing, page_mkwrite and the delalloc release scan after a
 * failed write. Locking follows {@link org.iomapfs.core.lockdep.LockOrder}; callers hold i_rwsem (or, for
 * faults, invalidate_lock) as the kernel's callers do.
 */
public final class BufferedIo {
    /** Copy-in attempts without progress before a write gives EFAULT. */
    private static final int MAX_FAULT_RETRIES = 1000;
    /** How much of the source one fault-in pass brings in (the kernel bounds it by the dirty throttle). */
    private static final int FAULT_IN_WINDOW = 256 << 10;

    private final FsContext ctx;

    public BufferedIo(FsContext ctx) {
        this.ctx = ctx;
    }

    // ---------------------------------------------------------------------------------------------
    // read

    /**
     * filemap_read: copies up to {@code dst.count()} bytes at {@code pos} out of the page cache, reading folios
     * in (with readahead) as needed, into a caller's buffer, which may be a mapping (its pages fault in as they
     * are stored to). Caller holds i_rwsem shared. {@code ra} is the open file's readahead state: what a miss
     * reads ({@link #syncReadaheadFolios}) and where this read ended. Returns the bytes read.
     */
    public int read(Inode inode, FileRaState ra, long pos, IovIter dst, IomapOps readOps) {
        int total = 0;
        int count = dst.count();
        while (total < count) {
            long size = inode.size();
            if (pos >= size) {
                break;
            }
            long idx = pos / Folio.PAGE_SIZE;
            // the pages of the request from idx on (filemap_get_pages: last_index - index)
            long req = (pos + (count - total) - 1) / Folio.PAGE_SIZE - idx + 1;
            Folio f = getUptodateFolio(inode, idx, readOps, ra, req);
            if (!f.tryGet()) {
                continue; // reclaim freed it since the lookup: look again (filemap_get_read_batch's retry)
            }
            int n;
            try {
                // i_size must be checked after the folio is uptodate (filemap_read).
                size = inode.size();
                int off = (int) (pos - f.pos());
                n = (int) Math.min(Math.min(f.size() - off, count - total), size - pos);
                if (n <= 0) {
                    break;
                }
                // the copy runs without the folio lock: the reference keeps reclaim from reusing the memory
                dst.copyToUser(total, f.data(), off, n);
            } finally {
                f.put();
            }
            pos += n;
            total += n;
        }
        ra.setPrevPos(pos);
        ctx.accessed(inode);
        return total;
    }

    /**
     * page_cache_sync_ra's choice (mm/readahead.c, ondemand_readahead before 6.10) for a miss at idx of a read
     * that wants {@code req} folios: the whole window at the start of the file, for a read larger than the
     * window, for a sequential miss ({@code idx - prev_index <= 1}) and where the folio before idx is cached
     * (the trace a sequential stream leaves, try_context_readahead); otherwise a standalone random read, read as
     * is ({@code do_page_cache_ra(ractl, req_size, 0)}), so random 4 KiB reads do not each read 32 folios.
     */
    int syncReadaheadFolios(Inode inode, FileRaState ra, long idx, long req) {
        int window = ctx.config.readaheadFolios();
        if (ra == null || idx == 0 || req > window) {
            return window;
        }
        long prev = ra.prevPos();
        if (prev >= 0 && idx >= prev / Folio.PAGE_SIZE && idx - prev / Folio.PAGE_SIZE <= 1) {
            return window;
        }
        return inode.mapping.find(idx - 1) != null ? window : (int) req;
    }

    /**
     * filemap_get_pages + filemap_update_page: the uptodate folio holding page idx (not locked, may be evicted
     * later); a miss reads the whole readahead window (the fault paths: filemap_fault's read-around).
     */
    public Folio getUptodateFolio(Inode inode, long idx, IomapOps readOps) {
        return getUptodateFolio(inode, idx, readOps, null, 1);
    }

    private Folio getUptodateFolio(Inode inode, long idx, IomapOps readOps, FileRaState ra, long req) {
        AddressSpace mapping = inode.mapping;
        while (true) {
            Folio f = mapping.find(idx);
            if (f == null) {
                readahead(inode, idx, syncReadaheadFolios(inode, ra, idx, req), readOps);
                f = mapping.find(idx);
                if (f == null) {
                    continue;
                }
            }
            if (f.isUptodate()) {
                return f;
            }
            f.lock();
            try {
                if (f.isRemoved()) {
                    continue;
                }
                if (!f.isUptodate()) {
                    readFolio(inode, f, readOps);
                }
                return f;
            } finally {
                f.unlock();
            }
        }
    }

    /**
     * page_cache_ra_unbounded: adds the missing folios of [idx, idx + n) below EOF (from idx, or idx + 1 when idx
     * is cached, up to the next cached folio) and reads them as one batch (iomap_readahead).
     */
    void readahead(Inode inode, long idx, int n, IomapOps readOps) {
        long lastIdx = Math.max(idx, (inode.size() - 1) / Folio.PAGE_SIZE);
        Folio[] batch = new Folio[n];
        int count = 0;
        for (long i = idx; i < idx + n && i <= lastIdx; i++) {
            Folio f = inode.mapping.addLockedIfAbsent(i);
            if (f == null) {
                if (i == idx) {
                    continue;
                }
                break;
            }
            batch[count++] = f;
        }
        if (count == 0) {
            return;
        }
        try {
            readFolios(inode, batch, count, readOps);
        } finally {
            for (int i = 0; i < count; i++) {
                batch[i].unlock();
            }
        }
    }

    /** The staging buffer of a readahead run that spans folios (one per reading thread, never shared). */
    private static final ThreadLocal<byte[]> RA_STAGING = new ThreadLocal<>();

    /**
     * iomap_readahead over locked, contiguous single-page folios {@code batch[0..count)} (readahead adds no large
     * folios here): one mapping walk over the whole
     * range, and one read of the image per run of blocks that are contiguous in the file and on the image (as
     * iomap_readpage_iter adds contiguous blocks to one bio), instead of one read per block or folio. Blocks
     * that hold no data are zeroed.
     */
    void readFolios(Inode inode, Folio[] batch, int count, IomapOps readOps) {
        int bs = inode.blockSize;
        for (int i = 0; i < count; i++) {
            batch[i].attachState(bs);
        }
        long start = batch[0].pos();
        IomapIter iter = new IomapIter(inode, start, (long) count * Folio.PAGE_SIZE, 0, readOps, ctx.metrics);
        iter.run(it -> readIter(it, batch, start));
    }

    private long readIter(IomapIter it, Folio[] batch, long start) {
        int bs = it.inode.blockSize;
        long pos = it.pos;
        long end = pos + it.length();
        while (pos < end) {
            Folio f = batch[(int) ((pos - start) / Folio.PAGE_SIZE)];
            int off = (int) (pos - f.pos());
            if (f.blockUptodate(off / bs)) {
                pos += bs;
                continue;
            }
            if (blockNeedsZeroing(it, pos)) {
                Arrays.fill(f.data(), off, off + bs, (byte) 0);
                f.setRangeUptodate(off, bs, bs);
                pos += bs;
                continue;
            }
            // a run of blocks to read: one mapping is contiguous on the image
            long runEnd = pos + bs;
            while (runEnd < end) {
                Folio g = batch[(int) ((runEnd - start) / Folio.PAGE_SIZE)];
                if (g.blockUptodate((int) (runEnd - g.pos()) / bs) || blockNeedsZeroing(it, runEnd)) {
                    break;
                }
                runEnd += bs;
            }
            int runLen = (int) (runEnd - pos);
            if (off + runLen <= f.size()) {
                ctx.dev.read(it.iomap.addrOf(pos), f.data(), off, runLen);
                f.setRangeUptodate(off, runLen, bs);
            } else {
                byte[] staging = RA_STAGING.get();
                if (staging == null || staging.length < runLen) {
                    staging = new byte[Math.max(runLen, ctx.config.readaheadFolios() * Folio.PAGE_SIZE)];
                    RA_STAGING.set(staging);
                }
                ctx.dev.read(it.iomap.addrOf(pos), staging, 0, runLen);
                for (long p = pos; p < runEnd; ) {
                    Folio g = batch[(int) ((p - start) / Folio.PAGE_SIZE)];
                    int goff = (int) (p - g.pos());
                    int n = (int) Math.min(g.size() - goff, runEnd - p);
                    System.arraycopy(staging, (int) (p - pos), g.data(), goff, n);
                    g.setRangeUptodate(goff, n, bs);
                    p += n;
                }
            }
            pos = runEnd;
        }
        return it.length();
    }

    /**
     * iomap_read_folio: fills the blocks of a locked folio that are not uptodate, zeroing those that
     * iomap_block_needs_zeroing says hold no data and reading the rest from the image.
     */
    public void readFolio(Inode inode, Folio f, IomapOps readOps) {
        int bs = inode.blockSize;
        f.attachState(bs);
        IomapIter iter = new IomapIter(inode, f.pos(), f.size(), 0, readOps, ctx.metrics);
        iter.run(it -> {
            long pos = it.pos;
            long end = pos + it.length();
            while (pos < end) {
                int off = (int) (pos - f.pos());
                int block = off / bs;
                if (!f.blockUptodate(block)) {
                    if (blockNeedsZeroing(it, pos)) {
                        Arrays.fill(f.data(), off, off + bs, (byte) 0);
                    } else {
                        ctx.dev.read(it.iomap.addrOf(pos), f.data(), off, bs);
                    }
                    f.setRangeUptodate(off, bs, bs);
                }
                pos += bs;
            }
            return it.length();
        });
    }

    /** iomap_block_needs_zeroing. */
    static boolean blockNeedsZeroing(IomapIter iter, long pos) {
        Iomap srcmap = iter.iomap;
        return srcmap.type != IomapType.MAPPED || srcmap.isNew() || pos >= iter.inode.size();
    }

    // ---------------------------------------------------------------------------------------------
    // write

    /**
     * A buffered write(2) body (xfs_file_buffered_write without the locking): iomap_file_buffered_write with
     * page faults disabled, repeated after a short copy once the rest of the buffer is faulted in, outside any
     * folio lock (the gfs2 loop of 00bfe02f4796, which is also iomap's own fault_in_iov_iter_readable +
     * copy_page_from_iter_atomic discipline). The caller sees the whole write unless an error stops it.
     * Caller holds i_rwsem exclusive. Returns the bytes written.
     */
    public long write(Inode inode, long pos, IovIter src, IomapOps ops) {
        long len = src.count();
        long done = 0;
        int stalls = 0;
        while (done < len) {
            // 00bfe02f4796 "gfs2: Fix mmap + page fault deadlocks for buffered I/O": copy with page faults
            // disabled (pagefault_disable), so a source page mapped from this very file comes back as a short
            // copy instead of a fault that needs the folio lock this write holds. Bug fault-in-deadlock: before
            // the fix the copy faulted in place.
            boolean nofault = !ctx.bugs.buggy(Bug.FAULT_IN_DEADLOCK);
            long n;
            try {
                n = fileBufferedWrite(inode, pos + done, src, (int) done, len - done, ops, nofault);
            } catch (FsException e) {
                if (done > 0) {
                    break;
                }
                throw e;
            }
            done += n;
            ctx.cache.balanceDirty();
            if (done < len && src.faultInReadable((int) done, (int) Math.min(len - done, FAULT_IN_WINDOW)) > 0) {
                if (done > 0) {
                    break;
                }
                throw new FsException(Errno.EFAULT, "the source buffer cannot be faulted in at offset " + done);
            }
            if (n == 0 && ++stalls > MAX_FAULT_RETRIES) {
                if (done > 0) {
                    break;
                }
                throw new FsException(Errno.EFAULT, "copy from the user buffer keeps failing at offset " + (pos + done));
            }
        }
        if (done > 0) {
            inode.touchMtime();
        }
        return done;
    }

    /** iomap_file_buffered_write: one pass of the iomap iterator over [pos, pos + len). */
    long fileBufferedWrite(Inode inode, long pos, IovIter src, int srcOff, long len, IomapOps ops, boolean nofault) {
        IomapIter iter = IomapIter.acquire(inode, pos, len, IomapOps.WRITE, ops, ctx.metrics);
        try {
            while (iter.iterate()) {
                try {
                    iter.processed = writeIter(iter, src, srcOff + (int) (iter.pos - pos), nofault);
                } catch (FsException e) {
                    iter.fail(e);
                }
            }
            return iter.pos - pos;
        } catch (FsException e) {
            return iter.finish(pos, e);
        } finally {
            iter.release();
        }
    }

    /**
     * iomap_write_iter: copies into one folio at a time under one mapping, in chunks of the mapping's largest
     * folio size, each trimmed to the folio write_begin returned (6.6).
     */
    long writeIter(IomapIter iter, IovIter src, int srcPos, boolean nofault) {
        long length = iter.length();
        long pos = iter.pos;
        long written = 0;
        int chunk = Folio.PAGE_SIZE << iter.inode.mapping.maxFolioOrder();
        ctx.hooks.fire(HookPoint.WRITE_AFTER_BEGIN, iter.inode, pos);
        while (length > 0) {
            int offset = (int) (pos & (chunk - 1));
            int bytes = (int) Math.min(chunk - offset, length);
            Folio folio;
            try {
                folio = writeBegin(iter, pos, bytes);
            } catch (FsException e) {
                if (written > 0) {
                    break;
                }
                throw e;
            }
            if (folio == null) {
                break;
            }
            offset = (int) (pos - folio.pos());
            bytes = Math.min(bytes, folio.size() - offset);
            int copied;
            try {
                copied = copyIn(iter.inode, pos, src, srcPos + (int) written, folio, offset, bytes, nofault);
                folio.definedUpTo(offset + copied);
            } catch (FsException e) {
                writeEnd(iter, pos, bytes, 0, folio);
                throw e;
            }
            int status = writeEnd(iter, pos, bytes, copied, folio);
            pos += status;
            written += status;
            length -= status;
            if (status < bytes) {
                // A short copy: end this pass here; the caller faults the buffer in and writes the rest.
                break;
            }
        }
        ctx.hooks.fire(HookPoint.WRITE_BEFORE_END, iter.inode, pos);
        return written;
    }

    /** The copy into a locked folio; injected faults (copyin_fail) make it come up short. */
    private int copyIn(Inode inode, long pos, IovIter src, int srcPos, Folio folio, int off, int bytes, boolean nofault) {
        int n = Math.max(0, Math.min(bytes, ctx.hooks.copyInAllowed(inode, pos, bytes)));
        try {
            return src.copyFromUser(srcPos, folio.data(), off, n, nofault);
        } catch (PageFaultDeadlock e) {
            ctx.bugs.fired(Bug.FAULT_IN_DEADLOCK);
            ctx.trace.emit(Trace.Event.BUG, inode.ino, pos, bytes, "fault-in-deadlock: " + e.getMessage());
            throw new FsException(Errno.EDEADLK, "write copying from a mapping of the file faulted on a folio it holds locked: " + e.getMessage());
        }
    }

    /**
     * iomap_write_begin: the locked folio holding pos, new ones sized for [pos, pos + len) (fgf_set_order), or
     * null when the cached mapping went stale (IOMAP_F_STALE set, the short write ends this iteration and the
     * iterator maps again). The blocks prepared are those of [pos, pos + len) inside the folio.
     */
    Folio writeBegin(IomapIter iter, long pos, int len) {
        Inode inode = iter.inode;
        // a new folio the write covers whole is not zeroed first: the copy defines it (Folio#definedUpTo)
        Folio folio = inode.mapping.grabLocked(pos / Folio.PAGE_SIZE, folioOrder(len), pos % Folio.PAGE_SIZE == 0 ? len : 0);
        // d7b64041164c "iomap: write iomap validity checks": with the folio locked, check that the mapping
        // cached since ->iomap_begin still describes the file; writeback, I/O completion and reclaim may
        // have changed the extent (and evicted the folio) while the write was copying other folios.
        boolean valid = iter.ops().valid(inode, iter.iomap);
        ctx.hooks.fire(HookPoint.WRITE_BEGIN_VALIDATED, inode, pos);
        // Bug stale-iomap: before d7b64041164c nothing looked at the cookie and the stale map was used.
        if (!valid && ctx.bugs.buggy(Bug.STALE_IOMAP)) {
            iter.usingStaleMap = true;
            valid = true;
        }
        if (!valid) {
            ctx.trace.emit(Trace.Event.IOMAP_STALE, inode.ino, pos, len, iter.iomap.toString());
            iter.iomap.flags |= Iomap.F_STALE;
            ctx.metrics.staleMaps.increment();
            folio.unlock();
            writeFailed(inode, pos, len);
            return null;
        }
        try {
            blockStart(iter, folio, pos, (int) Math.min(len, folio.pos() + folio.size() - pos));
        } catch (RuntimeException e) {
            folio.unlock();
            writeFailed(inode, pos, len);
            throw e;
        }
        return folio;
    }

    /** fgf_set_order: the order of a folio no larger than {@code len} bytes (0 up to two pages). */
    static int folioOrder(long len) {
        int shift = 63 - Long.numberOfLeadingZeros(Math.max(1, len));
        return Math.max(0, shift - Folio.PAGE_SHIFT);
    }

    /** __iomap_write_begin: brings the blocks a partial write touches uptodate, by zeroing or reading. */
    void blockStart(IomapIter iter, Folio folio, long pos, int len) {
        Inode inode = iter.inode;
        int bs = inode.blockSize;
        long blockStart = Math.floorDiv(pos, bs) * bs;
        long blockEnd = Blocks.roundUp(pos + len, bs);
        int from = (int) (pos - folio.pos());
        int to = from + len;
        if (pos <= folio.pos() && pos + len >= folio.pos() + folio.size()) {
            return;
        }
        folio.attachState(bs);
        if (folio.isUptodate()) {
            return;
        }
        do {
            long[] r = adjustReadRange(inode, folio, blockStart, blockEnd - blockStart);
            blockStart = r[0];
            int poff = (int) r[1];
            int plen = (int) r[2];
            if (plen == 0) {
                break;
            }
            if ((from <= poff || from >= poff + plen) && (to <= poff || to >= poff + plen)) {
                blockStart += plen;
                continue;
            }
            boolean zero = blockNeedsZeroing(iter, blockStart);
            Iomap map = iter.iomap;
            int flagsThen = map.flags;
            ctx.trace.emit(Trace.Event.WRITE_BEGIN, inode.ino, folio.pos() + poff, plen, () -> (zero ? "zero around [" : "read around [")
                    + pos + "," + (pos + len) + ") " + map.describe(flagsThen));
            if (zero) {
                if (iter.usingStaleMap) {
                    ctx.bugs.fired(Bug.STALE_IOMAP);
                    ctx.invalidateCached(inode.ino, folio.pos() + poff, plen, CacheInvalidation.Cause.BUG_FIRED);
                }
                Arrays.fill(folio.data(), poff, from > poff ? Math.min(from, poff + plen) : poff, (byte) 0);
                if (to < poff + plen) {
                    Arrays.fill(folio.data(), Math.max(to, poff), poff + plen, (byte) 0);
                }
            } else {
                ctx.dev.read(iter.iomap.addrOf(blockStart), folio.data(), poff, plen);
            }
            folio.setRangeUptodate(poff, plen, bs);
            blockStart += plen;
        } while (blockStart < blockEnd);
    }

    /**
     * iomap_adjust_read_range: skips leading and trailing uptodate blocks and stops at the block holding
     * i_size. Returns {new pos, offset in folio, length}.
     */
    static long[] adjustReadRange(Inode inode, Folio folio, long pos, long length) {
        int bs = inode.blockSize;
        long isize = inode.size();
        long origPos = pos;
        int poff = (int) (pos - folio.pos());
        int plen = (int) Math.min(folio.size() - poff, length);
        int first = poff / bs;
        int last = (poff + plen - 1) / bs;
        if (folio.hasState()) {
            int i;
            for (i = first; i <= last; i++) {
                if (!folio.blockUptodate(i)) {
                    break;
                }
                pos += bs;
                poff += bs;
                plen -= bs;
                first++;
            }
            for (; i <= last; i++) {
                if (folio.blockUptodate(i)) {
                    plen -= (last - i + 1) * bs;
                    last = i - 1;
                    break;
                }
            }
        }
        if (origPos <= isize && origPos + length > isize) {
            int end = (int) ((isize - 1 - folio.pos()) / bs);
            if (isize > folio.pos() && first <= end && last > end) {
                plen -= (last - end) * bs;
            }
        }
        return new long[]{pos, poff, Math.max(0, plen)};
    }

    /**
     * iomap_write_end + __iomap_write_end: commits {@code copied} bytes (all or, into a folio that is not
     * uptodate, nothing), updates i_size and unlocks the folio. Returns the bytes committed.
     */
    int writeEnd(IomapIter iter, long pos, int len, int copied, Folio folio) {
        Inode inode = iter.inode;
        int bs = inode.blockSize;
        long oldSize = inode.size();
        int ret;
        if (copied < len && !folio.isUptodate()) {
            ret = 0;
        } else {
            int off = (int) (pos - folio.pos());
            folio.setRangeUptodate(off, len, bs);
            folio.setRangeDirty(off, copied, bs);
            if (copied > 0) {
                inode.mapping.dirtyFolio(folio);
            }
            ret = copied;
        }
        if (pos + ret > oldSize) {
            inode.setSize(pos + ret);
        }
        folio.unlock();
        if (ret < len) {
            ctx.trace.emit(Trace.Event.IOMAP_END, inode.ino, pos, len, "short copy " + copied + " committed " + ret);
            writeFailed(inode, pos + ret, len - ret);
        }
        return ret;
    }

    /** iomap_write_failed: drop page cache the failed part of a write instantiated beyond EOF. */
    private void writeFailed(Inode inode, long pos, long len) {
        long size = inode.size();
        if (pos + len > size) {
            truncateBeyondEof(inode, Math.max(pos, size), pos + len - 1);
        }
    }

    /** truncate_pagecache_range beyond EOF; only folios entirely past EOF are deleted, others are kept. */
    private void truncateBeyondEof(Inode inode, long start, long end) {
        long firstWhole = (start + Folio.PAGE_SIZE - 1) / Folio.PAGE_SIZE * Folio.PAGE_SIZE;
        if (firstWhole <= end) {
            inode.mapping.truncateRange(firstWhole, end);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // zeroing

    /** iomap_zero_range: zeroes [pos, pos + len) in the page cache where the file has (or will have) data. */
    public void zeroRange(Inode inode, long pos, long len, IomapOps ops) {
        if (len <= 0) {
            return;
        }
        IomapIter iter = new IomapIter(inode, pos, len, IomapOps.WRITE | IomapOps.ZERO, ops, ctx.metrics);
        iter.run(this::zeroIter);
    }

    /** iomap_zero_iter. */
    long zeroIter(IomapIter iter) {
        long pos = iter.pos;
        long length = iter.length();
        long written = 0;
        if (iter.iomap.type == IomapType.HOLE || iter.iomap.type == IomapType.UNWRITTEN) {
            return length;
        }
        do {
            int bytes = (int) Math.min(Folio.PAGE_SIZE - pos % Folio.PAGE_SIZE, length);
            Folio folio = writeBegin(iter, pos, bytes);
            if (folio == null) {
                break;
            }
            int offset = (int) (pos - folio.pos());
            Arrays.fill(folio.data(), offset, offset + bytes, (byte) 0);
            int n = writeEnd(iter, pos, bytes, bytes, folio);
            if (n == 0) {
                throw new FsException(Errno.EIO, "zeroing made no progress at " + pos);
            }
            pos += n;
            length -= n;
            written += n;
        } while (length > 0);
        return written;
    }

    /** iomap_truncate_page: zeroes from pos to the end of its block. */
    public void truncatePage(Inode inode, long pos, IomapOps ops) {
        int off = (int) (pos % inode.blockSize);
        if (off != 0) {
            zeroRange(inode, pos, inode.blockSize - off, ops);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // page faults

    /**
     * What a fault does inside its mkwrite iteration besides dirtying: returns the bytes of the mapping it wrote;
     * fewer than the mapping's length is reported to ->iomap_end, and the iteration goes on.
     */
    @FunctionalInterface
    public interface FaultStore {
        long apply(IomapIter iter, Folio folio);
    }

    /**
     * filemap_fault + iomap_page_mkwrite: returns the folio holding page idx locked, uptodate and dirty (all of it,
     * as iomap_folio_mkwrite_iter dirties a large folio whole), with blocks
     * reserved, or null if it lies beyond EOF (SIGBUS). {@code store} (may be null) runs in each iteration.
     */
    public Folio pageMkwrite(Inode inode, long idx, IomapOps ops, IomapOps readOps, FaultStore store) {
        while (true) {
            if (idx * Folio.PAGE_SIZE >= inode.size()) {
                return null;
            }
            Folio folio = getUptodateFolio(inode, idx, readOps);
            folio.lock();
            if (folio.isRemoved()) {
                folio.unlock();
                continue;
            }
            if (!mkwriteLocked(inode, folio, ops, store)) {
                return null;
            }
            return folio;
        }
    }

    /**
     * iomap_page_mkwrite on a folio the caller locked: a write fault on a page that is already mapped
     * read-only (do_wp_page -> do_page_mkwrite) comes here directly, without bringing the folio uptodate
     * first. Returns false, with the folio unlocked, if it lies beyond EOF.
     */
    public boolean mkwriteLocked(Inode inode, Folio folio, IomapOps ops, FaultStore store) {
        long len = mkwriteCheckTruncate(folio, inode);
        if (len < 0) {
            folio.unlock();
            return false;
        }
        try {
            ctx.trace.emit(Trace.Event.MKWRITE, inode.ino, folio.pos(), len, folio.isUptodate() ? "" : "!uptodate");
            IomapIter iter = IomapIter.acquire(inode, folio.pos(), len, IomapOps.WRITE | IomapOps.FAULT, ops, ctx.metrics);
            long start = iter.pos;
            try {
                while (iter.iterate()) {
                    try {
                        long done = folioMkwriteIter(iter, folio);
                        if (store != null) {
                            long stored = store.apply(iter, folio);
                            if (stored < done) {
                                iter.reportWritten(stored);
                            }
                        }
                        iter.processed = done;
                    } catch (FsException e) {
                        iter.fail(e);
                    }
                }
            } catch (FsException e) {
                iter.finish(start, e);
            } finally {
                iter.release();
            }
        } catch (RuntimeException e) {
            folio.unlock();
            throw e;
        }
        return true;
    }

    /** folio_mkwrite_check_truncate: bytes of the folio inside EOF, or -1. */
    private static long mkwriteCheckTruncate(Folio folio, Inode inode) {
        long size = inode.size();
        if (folio.pos() >= size || folio.isRemoved()) {
            return -1;
        }
        return Math.min(folio.size(), size - folio.pos());
    }

    /**
     * iomap_folio_mkwrite_iter: the fault made the folio uptodate; dirty it (iomap_dirty_folio). A folio that
     * is not uptodate gets the kernel's WARN_ON_ONCE and is dirtied anyway (Wilcox's 2020 patch to return
     * -EIO here never landed; e9c3a8e820ed removed the cause instead).
     */
    private long folioMkwriteIter(IomapIter iter, Folio folio) {
        if (!folio.isUptodate()) {
            ctx.metrics.warn("mkwrite_not_uptodate");
            ctx.bugs.fired(Bug.MKWRITE_NOT_UPTODATE);
            ctx.invalidateCached(iter.inode.ino, folio.pos(), folio.size(), CacheInvalidation.Cause.BUG_FIRED);
            ctx.trace.emit(Trace.Event.BUG, iter.inode.ino, folio.pos(), folio.size(), "WARN page_mkwrite on a !uptodate folio");
        }
        folio.attachState(iter.inode.blockSize);
        folio.setRangeDirty(0, folio.size(), iter.inode.blockSize);
        iter.inode.mapping.dirtyFolio(folio);
        return iter.length();
    }

    // ---------------------------------------------------------------------------------------------
    // failed-write cleanup

    /**
     * iomap_write_delalloc_release (f43dc4dc3eff "iomap: buffered write failure should not truncate the page
     * cache"): under invalidate_lock exclusive, walk the cached data in [start, end) and punch delalloc only
     * where no dirty folio sits; everything beyond EOF is always punched.
     */
    public void writeDelallocRelease(Inode inode, long startByte, long endByte, DelallocRelease punch) {
        inode.invalidateLock.writeLock().lock();
        try {
            long punchStart = startByte;
            long scanEnd = Math.min(inode.size(), endByte);
            long start = startByte;
            while (start < scanEnd) {
                long dataStart = inode.mapping.seekHoleData(start, scanEnd, true);
                if (dataStart < 0 || dataStart == scanEnd) {
                    break;
                }
                long dataEnd = inode.mapping.seekHoleData(dataStart, scanEnd, false);
                if (dataEnd == dataStart) {
                    start = dataStart + 1;
                    continue;
                }
                punchStart = delallocScan(inode, punchStart, dataStart, dataEnd, punch);
                start = dataEnd;
            }
            if (punchStart < endByte) {
                punch.release(inode, punchStart, endByte);
            }
        } finally {
            inode.invalidateLock.writeLock().unlock();
        }
    }

    /** iomap_write_delalloc_scan: keeps delalloc under dirty folios. Returns the new punch start. */
    private long delallocScan(Inode inode, long punchStart, long start, long end, DelallocRelease punch) {
        while (start < end) {
            long idx = start / Folio.PAGE_SIZE;
            Folio folio = inode.mapping.lockFolio(idx);
            long next = folio != null ? folio.pos() + folio.size() : (idx + 1) * Folio.PAGE_SIZE;
            if (folio != null) {
                try {
                    if (folio.isDirty()) {
                        if (start > punchStart) {
                            punch.release(inode, punchStart, start);
                        }
                        punchStart = Math.min(end, next);
                    }
                } finally {
                    folio.unlock();
                }
            }
            start = next;
        }
        return punchStart;
    }
}
