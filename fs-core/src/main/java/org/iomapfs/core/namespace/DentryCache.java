package org.iomapfs.core.namespace;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.iomapfs.core.inode.Inode;

/**
 * The dentry cache: whole absolute paths to in-core inodes, so that the path libfuse's high-level API hands every
 * request resolves without the namespace lock (the kernel's lockless path walk, fs/namei.c, over fs/dcache.c).
 *
 * <p>Validity rule: an entry is tagged with the rename sequence read while its path was walked under the namespace
 * lock, and serves a lookup only while the sequence still has that value. Every operation that removes or
 * replaces a name (unlink, rmdir, rename, a rename over an existing name) bumps the sequence as soon as it holds
 * the namespace lock exclusively, before it changes anything. The sequence therefore still equals an entry's tag
 * only if no such operation has begun since the walk; names may have been added since, but adding a name cannot
 * change where an existing path leads (".." is resolved lexically by the walk) and failed walks are not cached (no
 * negative entries), so the entry is what a walk now would find. A rename of a directory thus invalidates every
 * path under it at once, as the kernel's rename_lock seqlock makes its lockless d_lookup retry after any rename.
 * A lookup racing a removal may still return the inode as it was just before: it is ordered before the removal,
 * as a lockless walk in the kernel completing just before a concurrent rename is.
 *
 * <p>Caffeine bounds the cache ({@link #MAX_ENTRIES}; stale entries linger until replaced or evicted) with lookups
 * that take no lock; its internal eviction lock is a leaf (no loader, listener or other call out of it, and
 * maintenance runs in the caller), so it is not part of the lock order.
 */
final class DentryCache {
    static final int MAX_ENTRIES = 1 << 16;

    private record Dentry(Inode inode, long seq) { }

    private final Cache<String, Dentry> entries = Caffeine.newBuilder().maximumSize(MAX_ENTRIES)
        .executor(Runnable::run).build();
    /** The rename sequence; written only under the namespace lock held exclusively. */
    private volatile long seq;

    /** The inode path leads to if a still valid entry says so, else null (walk it under the namespace lock). */
    Inode lookup(String path) {
        Dentry d = entries.getIfPresent(path);
        return d != null && d.seq == seq ? d.inode : null;
    }

    /** The sequence to tag a walk with; read under the namespace lock. */
    long seq() { return seq; }

    /** Caches a walk's result, tagged with the sequence read under the same hold of the namespace lock. */
    void add(String path, Inode inode, long walkedAt) {
        entries.put(path, new Dentry(inode, walkedAt));
    }

    /** A name is about to be removed or replaced: no entry cached so far may serve a lookup again. */
    @SuppressWarnings("NonAtomicVolatileUpdate") // one writer: the holder of the namespace lock
    void invalidate() { seq = seq + 1; }
}
