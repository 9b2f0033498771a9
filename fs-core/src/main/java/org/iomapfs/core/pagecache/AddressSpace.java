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

    public AddressSpace(long ino, int blockSize, PageCache cache) {
        this.ino = ino;
        this.blockSize = blockSize;
        this.cache = cache;
    }

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

    /** __filemap_get_folio(FGP_LOCK | FGP_CREAT): the locked folio at index, created (not uptodate) if absent. */
    public Folio grabLocked(long index) {
        while (true) {
            Folio f = lockFolio(index);
            if (f != null) {
                cache.metrics().cacheHits.increment();
                return f;
            }
            Folio nf = new Folio(this, index, cache.allocData());
            nf.lock();
            if (pages.putIfAbsent(index, nf) == null) {
                cache.metrics().cacheMisses.increment();
                cache.added(nf);
                return nf;
            }
            nf.unlock();
            cache.freeData(nf.data);
        }
    }

    /** Adds a new locked folio only if the index is free (readahead); returns null when one is cached. */
    public Folio addLockedIfAbsent(long index) {
        Folio nf = new Folio(this, index, cache.allocData());
        nf.lock();
        if (pages.putIfAbsent(index, nf) != null) {
            nf.unlock();
            cache.freeData(nf.data);
            return null;
        }
        cache.metrics().cacheMisses.increment();
        cache.added(nf);
        return nf;
    }

    /** Deletes a locked, clean folio from the cache (__filemap_remove_folio). */
    void delete(Folio f) {
        if (!f.isLocked()) {
            throw new IllegalStateException("delete of an unlocked folio " + f);
        }
        f.markRemoved();
        dirtyTag.clear(f.index);
        cache.removed(f, pages.remove(f.index, f));
    }

    /** filemap_dirty_folio: sets dirty and tags the folio for writeback. Caller holds the folio lock. */
    public void dirtyFolio(Folio f) {
        if (f.testSetDirty()) {
            cache.metrics().dirtyFolios.incrementAndGet();
            dirtyTag.set(f.index);
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
            cache.metrics().dirtyFolios.decrementAndGet();
        }
        return was;
    }

    /** Drops the dirty tag of a locked folio that is clean (writeback skipped it or found nothing to write). */
    public void clearTagIfClean(Folio f) {
        if (!f.isDirty()) {
            dirtyTag.clear(f.index);
        }
    }

    /** __folio_start_writeback: sets writeback and, if the folio is clean, clears its dirty tag. Folio locked. */
    public void startWriteback(Folio f) {
        writebackTag.set(f.index);
        f.startWriteback();
        cache.metrics().writebackFolios.incrementAndGet();
        clearTagIfClean(f);
    }

    /** folio_end_writeback: may be called from any thread, without the folio lock. */
    public void endWriteback(Folio f) {
        // the I/O and its completion work are done; untag first so the tag never lags a new writeback
        writebackTag.clear(f.index);
        f.endWriteback();
        cache.metrics().writebackFolios.decrementAndGet();
    }

    /** Indices tagged dirty in [from, to], in order. */
    public List<Long> dirtyIndices(long from, long to) {
        List<Long> out = new ArrayList<>();
        for (long i = dirtyTag.next(from, to); i >= 0; i = i == to ? -1 : dirtyTag.next(i + 1, to)) {
            out.add(i);
        }
        return out;
    }

    /** The first index tagged dirty in [from, to], or -1 (a walk of the tag that allocates nothing). */
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

    /** Folios with index in [from, to], in order (a snapshot). */
    public List<Folio> folios(long from, long to) {
        List<Folio> out = new ArrayList<>();
        pages.collect(from, to, out);
        return out;
    }

    public int size() { return pages.size(); }

    /** Waits for writeback on every folio overlapping [start, end] (filemap_fdatawait_range). */
    public void waitWriteback(long start, long end) {
        long last = end / Folio.SIZE;
        for (long idx = writebackTag.next(start / Folio.SIZE, last); idx >= 0;
             idx = idx == last ? -1 : writebackTag.next(idx + 1, last)) {
            Folio f = pages.get(idx);
            if (f != null) {
                f.waitWriteback();
            }
        }
    }

    /**
     * truncate_inode_pages_range(lstart, lend): deletes folios entirely inside [start, end] and zeroes the
     * covered part of partial folios at the edges. Waits for writeback. Caller holds invalidate_lock
     * exclusive (or the inode is being evicted), so no fault can re-create a folio meanwhile.
     */
    public void truncateRange(long start, long end) {
        if (end < start) {
            return;
        }
        forEachSettled(start, end, f -> {
            long fs = f.pos();
            long fe = fs + Folio.SIZE - 1;
            if (fs >= start && fe <= end) {
                clearDirtyForIo(f);
                f.detachState();
                delete(f);
            } else {
                int from = (int) (Math.max(start, fs) - fs);
                int to = (int) (Math.min(end, fe) - fs + 1);
                java.util.Arrays.fill(f.data, from, to, (byte) 0);
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
        for (Folio f : folios(start / Folio.SIZE, end / Folio.SIZE)) {
            if (f.lockedByCurrentThread()) {
                continue;
            }
            truncateRange(Math.max(start, f.pos()), Math.min(end, f.pos() + Folio.SIZE - 1));
        }
    }

    /**
     * invalidate_inode_pages2_range for direct I/O: deletes the clean folios overlapping [start, end].
     * Returns false if a folio could not be invalidated because it is dirty or mapped again (the caller
     * writes back and retries, or reports EBUSY as the kernel's DIO fallback would).
     */
    public boolean invalidateRange(long start, long end) {
        return forEachSettled(start, end, f -> {
            if (f.isDirty() || f.isMapped() || f.maybeDmaPinned()) {
                return false;
            }
            f.detachState();
            delete(f);
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
        for (Folio f : folios(start / Folio.SIZE, end / Folio.SIZE)) {
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
            long idx = pos / Folio.SIZE;
            Folio f = pages.get(idx);
            long folioEnd = Math.min(end, (idx + 1) * Folio.SIZE);
            if (f == null || f.isRemoved()) {
                if (!seekData) {
                    return pos;
                }
                long next = pages.next(idx + 1, Long.MAX_VALUE);
                if (next < 0) {
                    return seekData ? -1 : pos;
                }
                pos = next * Folio.SIZE;
                continue;
            }
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
