package org.iomapfs.core.pagecache;


import java.util.ArrayList;
import java.util.List;

/**
 * The page cache of one inode ({@code struct address_space}): folios by index, the dirty tag, and the
 * writeback error (errseq). Folios are added and deleted only with their lock held, so a folio found and
 * then locked is still in the mapping unless {@link Folio#isRemoved()} says otherwise.
 */
public final class AddressSpace {
    public final long ino;
    public final int blockSize;
    private final PageCache cache;
    private final FolioTable pages = new FolioTable();
    private final TagBitmap dirtyTag = new TagBitmap();
    /**
     * Whether this space is on the cache's dirty list (I_DIRTY_PAGES in i_state): __mark_inode_dirty returns early
     * when the inode already has the flags, so a write into an inode already dirty does not touch the shared list;
     * here a set insertion of a present key locks its hash bin, which the flusher's walk contends on. Written before
     * the list changes; {@link #maybeClean} clears it before removing and re-checks the tag after (a volatile store
     * and load on each side: a dirtying that saw it set happened before the re-check sees the tag empty).
     */
    private volatile boolean onDirtyList;
    // PAGECACHE_TAG_WRITEBACK: what fsync and truncate wait on, without walking every cached folio
    private final TagBitmap writebackTag = new TagBitmap();
    public final Errseq wbErr = new Errseq();

    /**
     * The largest folio order the per-block state can describe for this block size ({@link FolioState}: at most
     * 64 blocks per folio): order 6 (256 KiB) for 4 KiB blocks, 0 for blocks of 64 bytes.
     */
    private final int orderLimit;

    public AddressSpace(long ino, int blockSize, PageCache cache) {
        this.ino = ino;
        this.blockSize = blockSize;
        this.cache = cache;
        int limit = 0;
        while (limit < FolioTable.SHIFT && ((long) Folio.PAGE_SIZE << (limit + 1)) / blockSize <= Long.SIZE) {
            limit++;
        }
        this.orderLimit = limit;
    }

    /** mapping_max_folio_order: the cache's setting, bounded by what this block size allows. */
    public int maxFolioOrder() { return Math.min(cache.maxFolioOrder(), orderLimit); }

    public PageCache cache() { return cache; }

    /** filemap_get_folio without locking; may return a folio that is being removed. */
    public Folio find(long index) {
        Folio f = pages.get(index);
        if (f != null) {
            f.referenced = true;
        }
        return f;
    }

    /** filemap_lock_folio: the folio at index, locked, or null if none is cached. */
    public Folio lockFolio(long index) {
        while (true) {
            Folio f = pages.get(index);
            if (f == null) {
                return null;
            }
            f.lock();
            if (!f.isRemoved()) {
                f.referenced = true;
                return f;
            }
            f.unlock();
        }
    }

    /** __filemap_get_folio(FGP_LOCK | FGP_CREAT): the locked folio holding index, created (not uptodate) if absent. */
    public Folio grabLocked(long index) {
        return grabLocked(index, 0);
    }

    /**
     * __filemap_get_folio(FGP_WRITEBEGIN | fgf_set_order(len)) (mm/filemap.c, 6.6): the locked folio holding
     * index, or a new one starting at index of at most {@code order} (bounded by {@link #maxFolioOrder} and by
     * the alignment of index), falling back to smaller orders while another folio holds one of its pages.
     */
    public Folio grabLocked(long index, int order) {
        return grabLocked(index, order, 0);
    }

    /**
     * {@link #grabLocked(long, int)} for a writer that copies {@code overwrite} bytes from the start of index's
     * page before it unlocks: a new folio it covers whole gets memory that is not zeroed first, and the folio
     * zeroes at unlock whatever the writer did not declare copied ({@link Folio#definedUpTo}).
     */
    public Folio grabLocked(long index, int order, long overwrite) {
        order = Math.min(order, maxFolioOrder());
        if (order > 0 && (index & ((1L << order) - 1)) != 0) {
            order = Long.numberOfTrailingZeros(index);
        }
        while (true) {
            Folio f = lockFolio(index);
            if (f != null) {
                cache.metrics().cacheHits.increment();
                return f;
            }
            for (int o = order; o >= 0; o--) {
                Folio nf = install(index, o, overwrite >= (Folio.PAGE_SIZE << o));
                if (nf != null) {
                    return nf;
                }
            }
        }
    }

    /** Adds a new locked single-page folio only if the index is free (readahead); null when one is cached. */
    public Folio addLockedIfAbsent(long index) {
        return install(index, 0, false);
    }

    /** filemap_add_folio of a new locked folio at index; null when another folio holds one of its pages. */
    private Folio install(long index, int order, boolean overwritten) {
        Folio nf = new Folio(this, index, order, overwritten ? cache.allocDataUnzeroed(order) : cache.allocData(order));
        nf.lock();
        if (overwritten) {
            nf.markUndefined();
        }
        if (pages.putIfAbsent(nf) == null) {
            cache.metrics().cacheMisses.increment();
            cache.added(nf);
            return nf;
        }
        if (order == 0) {
            // one slot, claimed or not in one step: nobody saw it
            nf.unlock();
            cache.freeData(nf.data);
        } else {
            // a lookup may have found it in a slot it held for a moment: it must look again, and the memory
            // goes to the collector rather than to another folio
            nf.markRemoved();
            nf.unlock();
        }
        return null;
    }

    private static void tagAll(TagBitmap tag, Folio f) {
        for (long i = f.index; i < f.nextIndex(); i++) {
            tag.set(i);
        }
    }

    private static void untagAll(TagBitmap tag, Folio f) {
        for (long i = f.index; i < f.nextIndex(); i++) {
            tag.clear(i);
        }
    }

    /** Deletes a locked, clean folio from the cache (__filemap_remove_folio). */
    void delete(Folio f) {
        if (!f.isLocked()) {
            throw new IllegalStateException("delete of an unlocked folio " + f);
        }
        f.markRemoved();
        untagAll(dirtyTag, f);
        cache.removed(f, pages.remove(f));
    }

    /** filemap_dirty_folio: sets dirty and tags the folio for writeback. Caller holds the folio lock. */
    public void dirtyFolio(Folio f) {
        if (f.testSetDirty()) {
            cache.metrics().dirtyFolios.addAndGet(f.nr());
            tagAll(dirtyTag, f);
            if (!onDirtyList) {
                onDirtyList = true;
                cache.dirtySpaces.add(this);
            }
            cache.dirtied();
        }
    }

    /**
     * folio_clear_dirty_for_io: clears the dirty flag and returns whether it was set. The dirty tag stays
     * until writeback starts ({@link #startWriteback}) or the folio is found clean, as in the kernel where
     * __folio_start_writeback clears PAGECACHE_TAG_DIRTY: an fsync racing with the flusher then still finds
     * the folio, waits for its lock and sees it under writeback. User mappings are write-protected first
     * (folio_mkclean), so the next store faults through page_mkwrite. Caller holds the folio lock.
     */
    public boolean clearDirtyForIo(Folio f) {
        f.mkclean();
        boolean was = f.testClearDirty();
        if (was) {
            cache.metrics().dirtyFolios.addAndGet(-f.nr());
        }
        return was;
    }

    /** Drops the dirty tag of a locked folio that is clean (writeback skipped it or found nothing to write). */
    public void clearTagIfClean(Folio f) {
        if (!f.isDirty()) {
            untagAll(dirtyTag, f);
        }
    }

    /** __folio_start_writeback: sets writeback and, if the folio is clean, clears its dirty tag. Folio locked. */
    public void startWriteback(Folio f) {
        tagAll(writebackTag, f);
        f.startWriteback();
        cache.metrics().writebackFolios.addAndGet(f.nr());
        clearTagIfClean(f);
    }

    /** folio_end_writeback: may be called from any thread, without the folio lock. */
    public void endWriteback(Folio f) {
        // the I/O and its completion work are done; untag first so the tag never lags a new writeback
        untagAll(writebackTag, f);
        f.endWriteback();
        cache.metrics().writebackFolios.addAndGet(-f.nr());
    }

    /** mapping_tagged(mapping, PAGECACHE_TAG_DIRTY): whether any folio of this space is tagged dirty. */
    public boolean taggedDirty() { return !dirtyTag.isEmpty(); }

    /** Indices tagged dirty in [from, to], in order (every page of a dirty large folio). */
    public List<Long> dirtyIndices(long from, long to) {
        List<Long> out = new ArrayList<>();
        for (long i = dirtyTag.next(from, to); i >= 0; i = i == to ? -1 : dirtyTag.next(i + 1, to)) {
            out.add(i);
        }
        return out;
    }

    /**
     * The first index tagged dirty in [from, to], or -1 (a walk of the tag that allocates nothing). Every page of
     * a dirty large folio is tagged, so a walk from inside one finds it.
     */
    public long nextDirty(long from, long to) {
        return dirtyTag.next(from, to);
    }

    /** Drops this space from the flusher's list if nothing is dirty (re-checked to close the race with dirtying). */
    public void maybeClean() {
        if (dirtyTag.isEmpty()) {
            onDirtyList = false;
            cache.dirtySpaces.remove(this);
            if (!dirtyTag.isEmpty()) {
                onDirtyList = true;
                cache.dirtySpaces.add(this);
            }
        }
    }

    /** Folios holding a page with index in [from, to], in order, each once (a snapshot). */
    public List<Folio> folios(long from, long to) {
        List<Folio> out = new ArrayList<>();
        pages.collect(from, to, out);
        return out;
    }

    public int size() { return pages.size(); }

    /** Waits for writeback on every folio overlapping [start, end] (filemap_fdatawait_range). */
    public void waitWriteback(long start, long end) {
        long last = end / Folio.PAGE_SIZE;
        for (long idx = writebackTag.next(start / Folio.PAGE_SIZE, last); idx >= 0; ) {
            Folio f = pages.get(idx);
            long after = idx + 1;
            if (f != null) {
                f.waitWriteback();
                after = Math.max(after, f.nextIndex());
            }
            idx = after > last ? -1 : writebackTag.next(after, last);
        }
    }

    /**
     * truncate_inode_pages_range(lstart, lend): deletes folios entirely inside [start, end] and zeroes the
     * covered part of partial folios at the edges (a clean large one is then deleted too). Waits for writeback.
     * Caller holds invalidate_lock exclusive (or the inode is being evicted), so no fault can re-create a folio
     * meanwhile.
     */
    public void truncateRange(long start, long end) {
        if (end < start) {
            return;
        }
        forEachSettled(start, end, f -> {
            long fs = f.pos();
            long fe = fs + f.size() - 1;
            if (fs >= start && fe <= end) {
                clearDirtyForIo(f);
                f.detachState();
                delete(f);
                cache.free(f);
            } else {
                int from = (int) (Math.max(start, fs) - fs);
                int to = (int) (Math.min(end, fe) - fs + 1);
                java.util.Arrays.fill(f.data, from, to, (byte) 0);
                if (f.order() > 0 && !f.isDirty()) {
                    // truncate_inode_partial_folio: a large folio is split so that its pages inside the range go;
                    // the model does not split, and takes the kernel's path for a clean folio that cannot be split:
                    // truncate_inode_folio drops it whole. Its bytes outside the range are on the image (clean),
                    // and were zeroed only in memory. A dirty one keeps the zeroed range (a failed split's result).
                    f.detachState();
                    delete(f);
                    cache.free(f);
                }
            }
            return true;
        });
        maybeClean();
    }

    /**
     * truncate_pagecache_range as the pre-6.2 failed-write cleanup ran it: like {@link #truncateRange}, dirty
     * folios included, but a folio the calling thread holds locked is left alone (waiting for it would never
     * end). The caller does not hold invalidate_lock exclusive: that was the bug.
     */
    public void truncateRangeExceptHeld(long start, long end) {
        for (Folio f : folios(start / Folio.PAGE_SIZE, end / Folio.PAGE_SIZE)) {
            if (f.lockedByCurrentThread()) {
                continue;
            }
            truncateRange(Math.max(start, f.pos()), Math.min(end, f.pos() + f.size() - 1));
        }
    }

    /**
     * invalidate_inode_pages2_range for direct I/O: deletes the clean folios overlapping [start, end].
     * Returns false if a folio could not be invalidated because it is dirty or mapped again (the caller
     * writes back and retries, or reports EBUSY as the kernel's DIO fallback would).
     */
    public boolean invalidateRange(long start, long end) {
        if (pages.size() == 0) {
            return true; // invalidate_inode_pages2_range: mapping_empty returns at once
        }
        return forEachSettled(start, end, f -> {
            if (f.isDirty() || f.isMapped() || f.maybeDmaPinned()) {
                return false;
            }
            f.detachState();
            delete(f);
            cache.free(f);
            return true;
        });
    }

    /** What {@link #forEachSettled} does to a folio; false when it had to leave the folio alone. */
    @FunctionalInterface
    private interface SettledFolioOp {
        boolean apply(Folio f);
    }

    /**
     * Runs {@code op} on each folio of [start, end] still in the mapping, with the folio locked and its writeback
     * ended (the walk truncate_inode_pages_range and invalidate_inode_pages2_range share); whether every call
     * returned true.
     */
    private boolean forEachSettled(long start, long end, SettledFolioOp op) {
        boolean all = true;
        for (Folio f : folios(start / Folio.PAGE_SIZE, end / Folio.PAGE_SIZE)) {
            f.lock();
            try {
                if (!f.isRemoved()) {
                    f.waitWriteback();
                    all &= op.apply(f);
                }
            } finally {
                f.unlock();
            }
        }
        return all;
    }

    /**
     * mapping_seek_hole_data over [start, end): the first byte that is (SEEK_DATA) or is not (SEEK_HOLE)
     * backed by uptodate cached data, counting per-block state; -1 if none (ENXIO for SEEK_DATA).
     */
    public long seekHoleData(long start, long end, boolean seekData) {
        long pos = start;
        while (pos < end) {
            long idx = pos / Folio.PAGE_SIZE;
            Folio f = pages.get(idx);
            if (f == null || f.isRemoved()) {
                if (!seekData) {
                    return pos;
                }
                long next = pages.next(idx + 1, Long.MAX_VALUE);
                if (next < 0) {
                    return seekData ? -1 : pos;
                }
                pos = next * Folio.PAGE_SIZE;
                continue;
            }
            long folioEnd = Math.min(end, f.pos() + f.size());
            while (pos < folioEnd) {
                int block = (int) ((pos - f.pos()) / blockSize);
                boolean data = f.blockUptodate(block);
                if (data == seekData) {
                    return pos;
                }
                pos = Math.min(folioEnd, f.pos() + (long) (block + 1) * blockSize);
            }
        }
        return seekData ? -1 : end;
    }
}
