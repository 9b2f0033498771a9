package org.iomapfs.core.lockdep;

/**
 * The engine's lock order, in one place, and the classes the validator checks it with ({@link LockGraph}, on
 * with {@code -Diomapfs.lockdep=true}: every test run, and the daemon's {@code --lockdep}). A thread may only
 * take a lock further down this list than every lock it holds, and a wait counts as taking the class of
 * whoever ends it:
 *
 * <ol>
 *   <li>{@link #NAMESPACE} — {@code Namespace.lock}, directory tree changes (a global rwsem standing in for
 *       per-directory i_rwsem), held only for the name operation itself;</li>
 *   <li>{@link #I_RWSEM} — {@code Inode.iRwsem}: shared for buffered reads and direct I/O, exclusive for
 *       buffered writes, truncate, fallocate and eviction. Page faults never take it (which is why write() and
 *       mmap stores race);</li>
 *   <li>{@link #INVALIDATE_LOCK} — {@code Inode.invalidateLock} (mapping->invalidate_lock, XFS MMAPLOCK):
 *       shared for page faults, exclusive for truncate, punch, zero range, eviction and the delalloc release
 *       scan after a failed write;</li>
 *   <li>{@link #WRITEBACK} — ending folio writeback. Held by the code that ends it (writepages up to
 *       submission, and the I/O completion worker over a batch and its commit); waited for by
 *       {@code Folio.waitWriteback} and by the dirty throttle ({@code PageCache.balanceDirty}, entered holding
 *       at most i_rwsem or invalidate_lock). Nobody may wait for writeback holding anything below: completion takes
 *       the ILOCK and commits the metadata transaction before it ends writeback. Waiting on the folio one holds
 *       locked is the usual pattern and adds no folio -> writeback dependency: its writeback was started under
 *       that lock and needs it no more;</li>
 *   <li>{@link #FOLIO} — the folio lock: at most one folio at a time, except in index order within one
 *       mapping;</li>
 *   <li>{@link #ILOCK} — {@code ExtentMap.ilock}, XFS ILOCK;</li>
 *   <li>{@link #META_TXN} — {@code MvMetaStore}'s transaction lock: shared in every update, exclusive while a
 *       commit writes a version. A commit is taken holding at most the locks above it here, never inside an
 *       update;</li>
 *   <li>leaf monitors, which take nothing while held and so can close no cycle (not tracked): the
 *       {@code Allocator} (free space and reservations), an inode's attribute monitor, a folio's flag bits,
 *       {@code Errseq}, {@code MetaStore.allocateIno}, the injector, the bug switches, a mapping's PTEs,
 *       the flusher's kick, {@code FolioPool} (free folio memory: reclaim gives an array back holding the
 *       folio lock, a new folio takes one), and {@code PageCache.lruLock} (lruvec->lru_lock: the LRU list and each folio's
 *       links on it; taken holding anything, a new folio's lock when it is added, the folio lock when
 *       truncate, punch, invalidation or reclaim delete it from its mapping; reclaim holds it only to isolate
 *       a batch and to put back the folios it kept, judging each outside it with the folio trylock).</li>
 * </ol>
 *
 * A commit's housekeeping (at most once a second: sync of the metadata file, the synced-version pin under a
 * private leaf monitor, and MVStore's chunk rewrite) runs after the commit released the transaction lock, in
 * the committing thread. The rewrite holds MVStore's internal store lock for a bounded batch of pages
 * ({@code MvMetaStore.COMPACT_WRITE_BYTES}); a concurrent commit waits for it inside the exclusive side of the
 * transaction lock, so updates wait at most that long behind a compaction.
 *
 * {@code Injector.readGate} (inject/block_ino) is a wait, not a lock: a read waits on it at READ_BEGIN holding
 * nothing, and it is only held to change the knob.
 * Outside the engine, fs-fuse's {@code ControlErrors} monitor is a leaf, taken after a control write returned;
 * the daemon's shutdown hook ({@code Daemon.stop}) waits, holding nothing, for the start to mount or fail and then
 * for the engine to close, and neither waits for the hook (a test's hold of the start waits for the hook to begin,
 * which the hook signals before it waits).
 * {@code FsContext.invalidateCached} hands a range to the daemon's kernel-cache invalidation holding anything and
 * never blocks (a lock-free queue and an unpark); the daemon's notifier thread waits on nothing of the engine.
 * Reclaim only trylocks folios, so it adds no dependency. Inode eviction (iput_final) runs holding nothing:
 * the last unlink, rename over or close decides it under the namespace lock and evicts after releasing it.
 * docs/design.md section 1 has this order with the kernel's names for each class.
 */
public final class LockOrder {
    /** System property: on when "true" (surefire sets it; a spawned daemon inherits it from its CLI). */
    public static final String PROPERTY = "iomapfs.lockdep";
    /** System property: a directory where every report is also written as a file (what the tests check). */
    public static final String DIR_PROPERTY = "iomapfs.lockdep.dir";

    /** The engine's validator; one per JVM, like the kernel's, so classes are shared by every mounted engine. */
    public static final LockGraph LOCKDEP = new LockGraph(Boolean.getBoolean(PROPERTY));

    public static final LockClass NAMESPACE = LOCKDEP.newClass("namespace");
    public static final LockClass I_RWSEM = LOCKDEP.newClass("i_rwsem");
    public static final LockClass INVALIDATE_LOCK = LOCKDEP.newClass("invalidate_lock");
    public static final LockClass WRITEBACK = LOCKDEP.newClass("folio writeback");
    public static final LockClass FOLIO = LOCKDEP.newClass("folio lock");
    public static final LockClass ILOCK = LOCKDEP.newClass("ILOCK");
    public static final LockClass META_TXN = LOCKDEP.newClass("metadata transaction");

    /** The documented order, outermost first. */
    public static final java.util.List<LockClass> ORDER = java.util.List.of(NAMESPACE, I_RWSEM, INVALIDATE_LOCK,
            WRITEBACK, FOLIO, ILOCK, META_TXN);

    static {
        String dir = System.getProperty(DIR_PROPERTY);
        if (dir != null) {
            LOCKDEP.addReporter(r -> ReportFiles.write(java.nio.file.Path.of(dir), r));
        }
    }

    private LockOrder() { }
}
