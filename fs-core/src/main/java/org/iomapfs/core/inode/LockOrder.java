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
 *   <li>folio monitor — flag bits only, never held across anything else.</li>
 * </ol>
 *
 * {@code Injector.readGate} (inject/block_ino) is a wait, not a lock: a read waits on it at READ_BEGIN holding
 * nothing, and it is only held to change the knob.
 *
 * The writeback path starts at the folio lock (it holds no inode lock), the I/O completion worker at the
 * ILOCK. {@code MetaStore.commit} takes the exclusive side of the transaction lock while holding nothing.
 */
public final class LockOrder {
    private LockOrder() { }
}
