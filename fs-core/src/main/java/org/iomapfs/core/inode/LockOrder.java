package org.iomapfs.core.inode;

/**
 * The engine's lock order, in one place (see ../shared/design/model.md section 3). A thread may only take a
 * lock further down this list than every lock it holds:
 *
 * <ol>
 *   <li>{@code Namespace.lock} — directory tree changes (a global rwsem standing in for per-directory i_rwsem);</li>
 *   <li>{@link Inode#iRwsem} — i_rwsem: shared for buffered reads and direct I/O, exclusive for buffered
 *       writes, truncate and fallocate. Page faults never take it (which is why write() and mmap stores race);</li>
 *   <li>{@link Inode#invalidateLock} — mapping->invalidate_lock (XFS MMAPLOCK): shared for page faults,
 *       exclusive for truncate, punch, zero range and the delalloc release scan after a failed write;</li>
 *   <li>folio lock — at most one folio at a time, except in index order within one mapping;</li>
 *   <li>{@code ExtentMap.ilock} — XFS ILOCK;</li>
 *   <li>{@code MetaStore.update} — the shared side of the metadata transaction lock;</li>
 *   <li>{@code Allocator} monitor — free space and reservations;</li>
 *   <li>folio monitor — flag bits only, never held across anything else;</li>
 *   <li>{@code PageCache.lruLock} — lruvec->lru_lock: the LRU list and each folio's links on it. A leaf: taken
 *       holding anything (a new folio's lock when it is added, the folio lock when truncate, punch,
 *       invalidation or reclaim delete it from its mapping), nothing is taken under it. Reclaim holds it only to
 *       isolate a batch of folios and to put back the ones it kept; it judges each folio outside it with the
 *       folio trylock, so reclaim never blocks.</li>
 * </ol>
 *
 * The writeback path starts at the folio lock (it holds no inode lock), the I/O completion worker at the
 * ILOCK. {@code MetaStore.commit} takes the exclusive side of the transaction lock while holding nothing.
 * Its housekeeping (at most once a second: sync of the metadata file, the synced-version pin under a private
 * leaf monitor, and MVStore's chunk rewrite) runs after it has released the transaction lock, in the
 * committing thread, holding nothing. The rewrite holds MVStore's internal store lock for a bounded batch of
 * pages ({@code MvMetaStore.COMPACT_WRITE_BYTES}); a concurrent commit waits for it inside the exclusive side
 * of the transaction lock, so updates wait at most that long behind a compaction.
 */
public final class LockOrder {
    private LockOrder() { }
}
