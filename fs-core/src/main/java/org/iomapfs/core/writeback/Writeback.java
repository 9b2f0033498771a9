package org.iomapfs.core.writeback;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.extent.Extent;
import org.iomapfs.core.extent.ExtentType;
import org.iomapfs.core.api.CacheInvalidation;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.sched.Sched;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.trace.Trace;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.iomap.Ioend;
import org.iomapfs.core.iomap.IomapWritebackOps;
import org.iomapfs.core.iomap.IomapWritepageCtx;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.pagecache.AddressSpace;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageCache;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Writeback of dirty folios (iomap_writepages) and I/O completion (iomap_finish_ioend), with the filesystem's
 * side behind an {@link IomapWritebackOps} table (xfs_writeback_ops: {@code xfs/XfsAops}).
 *
 * <p>Submission locks each dirty folio, has ->map_blocks map each dirty block (XFS revalidates its cached
 * mapping against the data fork sequence and converts delalloc to unwritten), copies the dirty blocks into
 * ioends, sets writeback and unlocks. The ioend is written to the image; one the submit hook defers (XFS: over
 * unwritten blocks) then goes to the completion worker, whose end_io converts the blocks to written (bumping the
 * sequence) <em>before</em> writeback ends on the folios, so once a folio is clean and reclaimable its extent
 * has already changed.
 */
public final class Writeback implements AutoCloseable {
    private final FsContext ctx;
    private final IomapWritebackOps ops;
    private final LinkedBlockingQueue<Ioend> completions = new LinkedBlockingQueue<>();
    private final Thread flusher;
    private final Thread completer;
    private final Object kick = new Object();
    private volatile boolean kicked;
    private volatile boolean stopping;
    private volatile long lastCommit = System.nanoTime();

    public Writeback(FsContext ctx, IomapWritebackOps ops) {
        this.ctx = ctx;
        this.ops = ops;
        this.flusher = new Thread(this::flushLoop, "iomapfs-flusher");
        this.completer = new Thread(this::completionLoop, "iomapfs-ioend");
        flusher.setDaemon(true);
        completer.setDaemon(true);
        ctx.cache.setFlusher(this::wake);
        ctx.cache.setDirtyThreshold(ctx.config.dirtyThresholdFolios());
    }

    public void start() {
        if (Sched.ON && Sched.controlled()) {
            // under the explorer, completion runs when it schedules it (completeQueued) and nothing flushes
            return;
        }
        completer.start();
        flusher.start();
    }

    /** Wakes the flusher now (dirty threshold crossed, or reclaim found only dirty folios). */
    public void wake() {
        if (kicked) {
            // a wake is pending: the flusher clears it before its next pass, which then sees what the caller
            // dirtied (wb_start_background_writeback does nothing while writeback is already queued); writers
            // over the threshold call this for every folio they dirty
            return;
        }
        synchronized (kick) {
            kicked = true;
            kick.notifyAll();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // the flusher thread

    private void flushLoop() {
        long interval = ctx.config.writebackIntervalMs();
        while (!stopping) {
            synchronized (kick) {
                if (!kicked) {
                    try {
                        kick.wait(interval > 0 ? interval : 1000);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                kicked = false;
            }
            if (stopping) {
                return;
            }
            try {
                if (interval > 0 || ctx.cache.dirtyFolios() > ctx.config.dirtyThresholdFolios()) {
                    writebackAll(false);
                }
                if (System.nanoTime() - lastCommit > ctx.config.commitIntervalMs() * 1_000_000L) {
                    ctx.commit(false);
                    lastCommit = System.nanoTime();
                }
            } catch (RuntimeException e) {
                System.err.println("iomapfs: background writeback: " + e);
            }
        }
    }

    /** Writes back every inode with dirty folios (wb_writeback); with {@code sync}, waits for it all. */
    public void writebackAll(boolean sync) {
        for (AddressSpace space : new ArrayList<>(ctx.cache.dirtySpaces())) {
            Inode inode = ctx.inode(space.ino);
            if (inode == null || inode.mapping != space) {
                ctx.cache.dirtySpaces().remove(space);
                continue;
            }
            if (inode.isFreeing()) {
                // writeback_sb_inodes skips I_FREEING inodes: eviction drops their dirty folios unwritten
                continue;
            }
            if (sync) {
                writeAndWait(inode, 0, Long.MAX_VALUE);
            } else {
                writepages(inode, 0, Long.MAX_VALUE, false);
            }
            space.maybeClean();
        }
    }

    /**
     * filemap_write_and_wait_range over bytes [start, end]. As filemap_fdatawrite_wbc, a mapping with no dirty tag
     * starts no pass: every direct read and write flushes its range first, and most find nothing cached dirty. A
     * folio keeps its dirty tag until its writeback tag is set ({@link AddressSpace#startWriteback}), so a folio
     * dirtied before this call is seen by one check or the other.
     */
    public void writeAndWait(Inode inode, long start, long end) {
        if (inode.mapping.taggedDirty()) {
            writepages(inode, start, end, true);
        }
        inode.mapping.waitWriteback(start, end);
    }

    // ---------------------------------------------------------------------------------------------
    // submission

    /**
     * struct iomap_writepage_ctx: the mapping ->map_blocks cached, and the ioends built but not yet submitted,
     * whose data share {@link #staging}: a pass submits once {@link #pendingBytes} reaches MAX_IOEND_BYTES and a
     * folio adds at most the largest folio size, so the ioends of a pass never need more than the buffer holds. A
     * sync pass also writes its finished ioends on the way ({@link #submitFinished}); their bytes are reused only
     * after submitAll.
     */
    private static final class Wpc extends IomapWritepageCtx {
        final List<Ioend> ioends = new ArrayList<>();
        final ByteBuffer staging = ByteBuffer.allocateDirect(Ioend.MAX_IOEND_BYTES + (Folio.PAGE_SIZE << PageCache.MAX_FOLIO_ORDER));
        int pendingBytes;
        /** WB_SYNC_ALL: someone waits for this pass, so its image writes go to the device as they are made. */
        boolean sync;
        /** Image bytes [startFrom, startTo) written since the device write was last started. */
        long startFrom = Long.MAX_VALUE;
        long startTo;
        /** Ioends [0, submitted) of {@link #ioends} are written; their staging bytes are free only after submitAll. */
        int submitted;
        /** Bytes of the ioends after {@link #submitted} that can grow no more (a later one was started). */
        long finishedBytes;

        /** Forgets the pass's ioends: all were written, or the pass failed before building more. */
        void clearIoends() {
            ioends.clear();
            submitted = 0;
            finishedBytes = 0;
            pendingBytes = 0;
        }
    }

    /** Image bytes a sync pass writes before it starts their device write (blk_plug: a batch, not each bio). */
    private static final long START_WRITE_BYTES = 128 << 10;

    /** Writeback contexts of finished passes, their staging buffers reused by the next (flusher and fsyncs). */
    private final java.util.concurrent.ConcurrentLinkedDeque<Wpc> idleWpcs = new java.util.concurrent.ConcurrentLinkedDeque<>();

    /**
     * write_cache_pages + iomap_writepage_map over dirty folios of bytes [start, end]. With {@code sync}
     * (WB_SYNC_ALL) folios under writeback are waited for and written again; otherwise skipped.
     */
    public void writepages(Inode inode, long start, long end, boolean sync) {
        // Folios this call puts under writeback end only once it submits them (or their completion runs):
        // whatever it takes until then, a waiter for writeback depends on.
        LockOrder.WRITEBACK.acquire();
        try {
            writepagesLocked(inode, start, end, sync);
        } finally {
            LockOrder.WRITEBACK.release();
        }
    }

    private void writepagesLocked(Inode inode, long start, long end, boolean sync) {
        AddressSpace mapping = inode.mapping;
        Wpc wpc = idleWpcs.pollFirst();
        if (wpc == null) {
            wpc = new Wpc();
        }
        wpc.map = null;
        wpc.dataSeq = -1;
        wpc.holeStart = wpc.holeEnd = -1;
        wpc.sync = sync;
        try {
            writepagesRange(wpc, inode, mapping, start, end, sync);
        } finally {
            // nothing reads the staging buffer any more
            wpc.clearIoends();
            idleWpcs.offerFirst(wpc);
        }
    }

    private void writepagesRange(Wpc wpc, Inode inode, AddressSpace mapping, long start, long end, boolean sync) {
        long endIdx = end == Long.MAX_VALUE ? Long.MAX_VALUE : end / Folio.PAGE_SIZE;
        // the dirty tag walked in index order as write_cache_pages does (filemap_get_folios_tag), with no snapshot;
        // after a folio the walk goes on past its last page
        long after;
        for (long idx = mapping.nextDirty(start / Folio.PAGE_SIZE, endIdx); idx >= 0;
             idx = after > endIdx || after <= 0 ? -1 : mapping.nextDirty(after, endIdx)) {
            after = idx + 1;
            if (!sync && inode.isFreeing()) {
                // The kernel writes an inode back in chunks (writeback_chunk_size) and starts none on an
                // I_FREEING one; evict() waits for the chunk in flight (inode_wait_for_writeback). Stopping here
                // is that bound: eviction waits for what is under writeback, not for the rest of the file.
                break;
            }
            Folio folio = mapping.find(idx);
            if (folio == null) {
                continue;
            }
            after = Math.max(after, folio.nextIndex());
            long t0 = System.nanoTime();
            folio.lock();
            if (folio.isRemoved() || !folio.isDirty()) {
                if (!folio.isRemoved()) {
                    mapping.clearTagIfClean(folio);
                }
                folio.unlock();
                continue;
            }
            if (folio.isWriteback()) {
                if (!sync) {
                    folio.unlock();
                    continue;
                }
                folio.waitWriteback();
            }
            mapping.clearDirtyForIo(folio);
            writepageMap(wpc, inode, folio);
            ctx.metrics.writebackLatency.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
            if (wpc.pendingBytes >= Ioend.MAX_IOEND_BYTES) {
                submitAll(wpc);
            } else if (wpc.sync && wpc.finishedBytes >= START_WRITE_BYTES) {
                submitFinished(wpc);
            }
        }
        submitAll(wpc);
    }

    /** iomap_writepage_map: adds the folio's dirty blocks to ioends, starts writeback and unlocks it. */
    private void writepageMap(Wpc wpc, Inode inode, Folio folio) {
        int bs = inode.blockSize;
        long isize = inode.size();
        long pos = folio.pos();
        // iomap_writepage_handle_eof: a folio wholly past EOF is being truncated; one straddling EOF has its
        // tail zeroed, because mmap stores may have written past EOF.
        if (pos >= isize) {
            inode.mapping.clearTagIfClean(folio);
            folio.unlock();
            return;
        }
        long endPos = pos + folio.size();
        if (endPos > isize) {
            java.util.Arrays.fill(folio.data(), (int) (isize - pos), folio.size(), (byte) 0);
            endPos = (isize + bs - 1) / bs * bs;
        }
        int nblocks = folio.size() / bs;
        if (!folio.hasState() && nblocks > 1) {
            // "iomap: Permit pages without an iop to enter writeback" (Wilcox, Gruenbacher): a folio dirtied
            // without per-block state (a whole-folio write, or a DIO completion redirtying a pinned page) gets
            // it now, every block dirty. Bug gup-dirty-without-state: before it, iomap_writepage_map did
            // WARN_ON_ONCE(i_blocksize < PAGE_SIZE && !iop), since every folio was expected to keep its state
            // while dirty; reclaim had freed it under a pin.
            if (ctx.bugs.buggy(Bug.GUP_DIRTY_WITHOUT_STATE)) {
                if (folio.stateReleasedUnderPin()) {
                    ctx.metrics.warn("writeback_dirty_folio_without_state");
                    ctx.bugs.fired(Bug.GUP_DIRTY_WITHOUT_STATE);
                    ctx.trace.emit(Trace.Event.BUG, inode.ino, folio.pos(), folio.size(), "WARN dirty folio without state");
                }
            } else {
                folio.attachState(bs);
                folio.setRangeDirty(0, (int) (endPos - pos), bs);
            }
        }
        int count = 0;
        FsException error = null;
        for (int i = 0; i < nblocks && pos < endPos; i++, pos += bs) {
            if (!folio.blockDirty(i)) {
                continue;
            }
            try {
                if (ctx.hooks.wbSubmitFails(inode, pos)) {
                    throw new FsException(Errno.EIO, "injected writeback submission error at " + pos);
                }
                ops.mapBlocks(wpc, inode, pos);
            } catch (FsException e) {
                error = e;
                break;
            }
            ctx.hooks.fire(HookPoint.WB_MAPPED, inode, pos);
            Extent mapped = wpc.map;
            ctx.trace.emit(Trace.Event.WB_MAP, inode.ino, pos, bs, mapped == null ? "hole" : mapped,
                    mapped == null ? Trace.NO_AUX : wpc.dataSeq);
            if (wpc.map == null) {
                continue;
            }
            addToIoend(wpc, inode, folio, pos, bs);
            count++;
        }
        if (error != null) {
            ctx.trace.emit(Trace.Event.WB_ERROR, inode.ino, pos, bs, error.getMessage());
            ctx.invalidateCached(inode.ino, folio.pos(), folio.size(), CacheInvalidation.Cause.WRITEBACK_ERROR);
            ops.discardFolio(inode, folio, pos);
            // e9c3a8e820ed "iomap: don't invalidate folios after writeback errors": the folio stays uptodate
            // and keeps its state; the error goes to the mapping (fsync returns EIO). Bug mkwrite-not-uptodate:
            // before it, ->discard_folio invalidated the folio's state (XfsAops.discardFolio) and the error path
            // cleared uptodate, leaving it mapped, so the next store's page_mkwrite met a folio that was not
            // uptodate.
            if (ctx.bugs.buggy(Bug.MKWRITE_NOT_UPTODATE)) {
                folio.clearUptodate();
            }
            if (count == 0) {
                inode.mapping.clearTagIfClean(folio);
                folio.unlock();
                inode.mapping.wbErr.set(Errno.EIO.code);
                ctx.metrics.writebackErrors.increment();
                return;
            }
        }
        folio.clearRangeDirtyAll();
        inode.mapping.startWriteback(folio);
        folio.unlock();
        if (count == 0) {
            inode.mapping.endWriteback(folio);
        }
        if (error != null) {
            inode.mapping.wbErr.set(Errno.EIO.code);
            ctx.metrics.writebackErrors.increment();
        }
    }

    private void addToIoend(Wpc wpc, Inode inode, Folio folio, long pos, int bs) {
        Extent e = wpc.map;
        long addr = (e.disk() + (inode.block(pos) - e.start())) * bs;
        boolean unwritten = e.type() == ExtentType.UNWRITTEN;
        Ioend cur = wpc.ioends.isEmpty() ? null : wpc.ioends.get(wpc.ioends.size() - 1);
        if (cur == null || !cur.continues(inode, pos, addr, unwritten)) {
            if (cur != null) {
                wpc.finishedBytes += cur.length;
            }
            cur = new Ioend(inode, pos, addr, unwritten, wpc.staging, wpc.pendingBytes);
            wpc.ioends.add(cur);
        }
        folio.writePendingInc();
        cur.add(folio, (int) (pos - folio.pos()), bs);
        wpc.pendingBytes += bs;
    }

    /**
     * Writes the ioends of a sync pass that can grow no more (a later one was started) and starts their device
     * write. iomap_add_to_ioend (fs/iomap/ioend.c) submits the current ioend as soon as a block does not continue
     * it, so the device works while the pass walks on, where gathering up to 1 MiB first kept it waiting for the
     * walk (an msync of 256 scattered 4 KiB stores: the first device write 0.21-0.22 ms into the FSYNC against
     * 0.41-0.43 ms). Here they go in batches of START_WRITE_BYTES, and their staging bytes stay taken until
     * submitAll.
     */
    private void submitFinished(Wpc wpc) {
        submitUpTo(wpc, wpc.ioends.size() - 1);
    }

    private void submitAll(Wpc wpc) {
        submitUpTo(wpc, wpc.ioends.size());
        wpc.clearIoends();
    }

    /**
     * Writes ioends [submitted, upTo); a sync pass starts their device write every START_WRITE_BYTES and at the end.
     */
    private void submitUpTo(Wpc wpc, int upTo) {
        long batched = 0;
        for (int i = wpc.submitted; i < upTo; i++) {
            Ioend io = wpc.ioends.get(i);
            submit(io);
            if (wpc.sync) {
                wpc.startFrom = Math.min(wpc.startFrom, io.addr);
                wpc.startTo = Math.max(wpc.startTo, io.addr + io.length);
                batched += io.length;
                if (batched >= START_WRITE_BYTES) {
                    startWrite(wpc);
                    batched = 0;
                }
            }
        }
        if (wpc.startFrom != Long.MAX_VALUE) {
            startWrite(wpc);
        }
        wpc.submitted = upTo;
        wpc.finishedBytes = 0;
    }

    /**
     * Starts the device write of the image bytes a sync pass wrote so far: pwrite only dirties the host's cache,
     * where the kernel's submit_bio starts the I/O, so without this the device write of a whole fsync would begin
     * only at the image's fdatasync (a range spanning other dirty host pages starts those too, harmlessly).
     */
    private void startWrite(Wpc wpc) {
        ctx.dev.startWrite(wpc.startFrom, wpc.startTo - wpc.startFrom);
        ctx.metrics.deviceWriteStarts.increment();
        wpc.startFrom = Long.MAX_VALUE;
        wpc.startTo = 0;
    }

    /**
     * iomap_submit_ioend + bio completion: write to the image, then complete here, or in the worker when the
     * submit hook asked for it and the write succeeded (a failed ioend has nothing to convert: xfs_end_ioend
     * skips the transaction on error).
     */
    private void submit(Ioend io) {
        boolean deferred = ops.submit(io);
        try {
            ctx.dev.write(io.addr, io.data());
        } catch (FsException e) {
            io.error = true;
        }
        ctx.hooks.fire(HookPoint.WB_SUBMITTED, io.inode, io.fileOffset);
        ctx.trace.emit(Trace.Event.WB_SUBMIT, io.inode.ino, io.fileOffset, io.length, 
                io.unwritten ? (io.error ? "unwritten EIO" : "unwritten") : (io.error ? "written EIO" : "written"));
        if (!io.error && ctx.hooks.wbCompleteFails(io.inode, io.fileOffset)) {
            io.error = true;
        }
        if (deferred && !io.error) {
            completions.add(io);
        } else {
            finishIoend(io);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // completion

    private void completionLoop() {
        List<Ioend> batch = new ArrayList<>();
        while (true) {
            try {
                Ioend first = completions.take();
                if (first.inode == null) {
                    return;
                }
                batch.add(first);
                completions.drainTo(batch);
                if (completeBatch(batch)) {
                    return;
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                System.err.println("iomapfs: I/O completion: " + e);
                e.printStackTrace();
            }
        }
    }

    /** Ends a batch of ioends and commits their transactions; returns whether it held the stop marker. */
    private boolean completeBatch(List<Ioend> batch) {
        boolean poison = false;
        // The ioends queued behind this batch end only after its commit: the whole batch is the
        // writeback-ending context that waiters for writeback depend on.
        LockOrder.WRITEBACK.acquire();
        try {
            for (Ioend io : batch) {
                if (io.inode == null) {
                    poison = true;
                    continue;
                }
                ops.endIo(io);
                ctx.hooks.fire(HookPoint.IOEND_CONVERTED, io.inode, io.fileOffset);
                finishIoend(io);
            }
            batch.clear();
            // The transactions of this batch (unwritten -> written) are committed together.
            ctx.commit(false);
        } finally {
            LockOrder.WRITEBACK.release();
        }
        lastCommit = System.nanoTime();
        return poison;
    }

    /** Whether ioends wait for the completion worker (the explorer runs them with {@link #completeQueued}). */
    public boolean hasQueuedCompletions() { return !completions.isEmpty(); }

    /** Runs the queued completions as one batch in the calling thread, as the worker would (the explorer's). */
    public void completeQueued() {
        List<Ioend> batch = new ArrayList<>();
        completions.drainTo(batch);
        if (!batch.isEmpty()) {
            completeBatch(batch);
        }
    }

    /** iomap_finish_ioend: record errors on the mapping and end writeback once a folio has no I/O pending. */
    private void finishIoend(Ioend io) {
        ctx.trace.emit(Trace.Event.WB_COMPLETE, io.inode.ino, io.fileOffset, io.length, io.error ? "EIO" : "");
        if (io.error) {
            io.inode.mapping.wbErr.set(Errno.EIO.code);
            ctx.metrics.writebackErrors.increment();
        }
        ctx.invalidateCached(io.inode.ino, io.fileOffset, io.length,
            io.error ? CacheInvalidation.Cause.WRITEBACK_ERROR : CacheInvalidation.Cause.WRITEBACK_DONE);
        for (Folio f : io.blocks) {
            if (f.writePendingDec() == 0) {
                io.inode.mapping.endWriteback(f);
            }
        }
        ctx.metrics.completionLatency.record(System.nanoTime() - io.submitNanos, TimeUnit.NANOSECONDS);
        ctx.hooks.fire(HookPoint.IOEND_DONE, io.inode, io.fileOffset);
    }

    /** Stops the threads after writing back and completing everything. */
    @Override
    public void close() {
        writebackAll(true);
        stopping = true;
        wake();
        try {
            flusher.join(10_000);
            completions.add(new Ioend(null, 0, 0, false, null, 0));
            completer.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
