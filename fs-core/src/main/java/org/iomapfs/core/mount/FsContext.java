package org.iomapfs.core.mount;

import org.iomapfs.core.config.AtimePolicy;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.block.BlockDev;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.bugs.BugSwitches;
import org.iomapfs.core.extent.Allocator;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.hooks.Hooks;
import org.iomapfs.core.inject.Injector;
import org.iomapfs.core.metrics.EngineMetrics;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageCache;
import org.iomapfs.core.store.MetaStore;
import org.iomapfs.core.trace.Trace;

import org.iomapfs.core.api.CacheInvalidation;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;

import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongFunction;
import java.util.function.Supplier;

/**
 * What every part of one mounted engine shares (the struct xfs_mount / super_block of this model), and the
 * metadata commit: attribute changes are flushed inside an update, the store commits, then the extents that
 * the committed transactions freed become allocatable (busy extents cleared).
 */
public final class FsContext {
    public final MetaStore store;
    public final BlockDev dev;
    public final Allocator alloc;
    public final PageCache cache;
    public final EngineMetrics metrics;
    public final EngineConfig config;
    public final Hooks hooks = new Hooks();
    public final BugSwitches bugs;
    public final Injector inject;
    public final Trace trace;
    public final int blockSize;
    private volatile CacheInvalidation invalidation;
    private volatile boolean readOnly;
    private final AtimePolicy atime;
    private volatile CacheInvalidation.Mode invalidationMode = CacheInvalidation.Mode.LOSSES;
    /** Inodes on which a bug fired: a later eviction of their folios may drop data that is nowhere else. */
    private final Set<Long> harmed = ConcurrentHashMap.newKeySet();
    private final LongFunction<Inode> inodeLookup;
    private final Supplier<Collection<Inode>> allInodes;

    public FsContext(MetaStore store, BlockDev dev, Allocator alloc, PageCache cache, EngineMetrics metrics,
                     EngineConfig config, LongFunction<Inode> inodeLookup, Supplier<Collection<Inode>> allInodes) {
        this.store = store;
        this.dev = dev;
        this.alloc = alloc;
        this.cache = cache;
        this.metrics = metrics;
        this.config = config;
        this.readOnly = config.readOnly();
        this.atime = config.atime();
        this.trace = new Trace(config.traceEvents());
        this.blockSize = store.superblock().blockSize();
        this.bugs = new BugSwitches(metrics.registry);
        this.inject = new Injector(hooks, cache);
        // once per evicted folio: the inode is looked up only for a hook that will see it
        cache.attach(bugs, f -> {
            trace.emit(Trace.Event.RECLAIM, f.mapping.ino, f.pos(), f.size(), "");
            invalidateCached(f.mapping.ino, f.pos(), f.size(), CacheInvalidation.Cause.RECLAIM);
            if (hooks.active(HookPoint.RECLAIM_EVICTED)) {
                Inode in = inode(f.mapping.ino);
                if (in != null) {
                    hooks.fire(HookPoint.RECLAIM_EVICTED, in, f.pos());
                }
            }
        });
        this.inodeLookup = inodeLookup;
        this.allInodes = allInodes;
    }

    public void setCacheInvalidation(CacheInvalidation c) { invalidation = c; }

    /** Whether the mount is read-only now: opened so, or remounted so since ({@link #setReadOnly}). */
    public boolean readOnly() { return readOnly; }

    public void setReadOnly(boolean ro) { readOnly = ro; }

    public AtimePolicy atimePolicy() { return atime; }

    /**
     * file_accessed / touch_atime: moves atime as the mount's policy says, never on a read-only mount (IS_NOATIME
     * includes SB_RDONLY). Returns whether atime changed; the next commit keeps it.
     */
    public boolean accessed(Inode in) {
        return !readOnly && in.touchAtime(atime);
    }

    public CacheInvalidation.Mode invalidationMode() { return invalidationMode; }

    public void setInvalidationMode(CacheInvalidation.Mode m) { invalidationMode = m; }

    /**
     * Tells whoever caches this engine's data (the kernel's page cache above the daemon) that bytes [offset,
     * offset + length) of {@code ino} may now differ from what it holds, if the mode hands out this cause. Never
     * blocks: called holding engine locks (a fault's folio lock, i_rwsem, writeback).
     */
    public void invalidateCached(long ino, long offset, long length, CacheInvalidation.Cause cause) {
        CacheInvalidation c = invalidation;
        CacheInvalidation.Mode m = invalidationMode;
        if (c == null || m == CacheInvalidation.Mode.OFF) {
            return;
        }
        switch (cause) {
            case BUG_FIRED -> harmed.add(ino);
            case WRITEBACK_DONE -> {
                if (m != CacheInvalidation.Mode.ALL) {
                    return;
                }
            }
            case RECLAIM -> {
                if (m != CacheInvalidation.Mode.ALL && (harmed.isEmpty() || !harmed.contains(ino))) {
                    return;
                }
            }
            default -> { }
        }
        c.invalidate(ino, offset, length, cause);
    }

    /** The in-core inode, or null if it was evicted. */
    public Inode inode(long ino) { return inodeLookup.apply(ino); }

    /**
     * Runs an allocating step, and once more after a commit if it failed with ENOSPC while freed blocks were
     * still busy: they become usable once their transaction is committed (xfs_extent_busy_flush). The step
     * takes and drops its own locks, so the commit runs holding none.
     */
    public <T> T retryAfterBusyFlush(Supplier<T> step) {
        try {
            return step.get();
        } catch (FsException e) {
            if (e.errno() != Errno.ENOSPC || alloc.busyBlocks() == 0) {
                throw e;
            }
        }
        commit(false);
        return step.get();
    }

    /**
     * The stable-storage half of fdatasync, after the file's writeback has ended: forces the data, and commits
     * metadata durably only if some update not yet on stable storage changes more than timestamps. XFS's
     * xfs_file_fsync forces the log for a datasync only when {@code ili_fields & ~XFS_ILOG_TIMESTAMP} (else
     * it only flushes the data device): an overwrite of written blocks changes only mtime and ctime, which
     * fdatasync need not keep. The test is over the whole store, not this inode only, so it errs towards
     * committing. In-core attribute changes not in the store yet are put there first, so they count.
     */
    public void commitForDatasync() {
        if (config.readOnly()) {
            return;
        }
        persistDirtyInodes();
        if (store.unsyncedOnlyTimestamps()) {
            dev.force();
            metrics.datasyncsWithoutCommit.increment();
        } else {
            commit(true);
        }
    }

    private void persistDirtyInodes() {
        store.update(() -> {
            for (Inode inode : allInodes.get()) {
                inode.persistIfDirty(store);
            }
        });
    }

    /** Commits metadata; with {@code durable}, forces data and metadata to stable storage first/with it. */
    public void commit(boolean durable) {
        if (config.readOnly()) {
            return; // opened read-only: the image and its metadata are not written at all
        }
        List<long[]> busy = alloc.busySnapshot();
        persistDirtyInodes();
        if (durable) {
            dev.force();
        }
        store.commit(durable);
        metrics.commits.increment();
        alloc.busyCommitted(busy);
    }
}
