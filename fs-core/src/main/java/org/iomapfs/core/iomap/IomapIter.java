package org.iomapfs.core.iomap;

import org.iomapfs.core.api.FsException;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.metrics.EngineMetrics;

/**
 * struct iomap_iter and iomap_iter() as of the stale-iomap fix (d7b64041164c): each step calls
 * {@code ->iomap_end} with the bytes processed, then advances; a step that processed nothing ends the walk
 * unless the mapping was marked STALE, in which case the rest of the range is mapped again.
 */
public final class IomapIter {
    /** Set once per walk (by the constructor or {@link #acquire}); read-only for the actors. */
    public Inode inode;
    public int flags;
    private IomapOps ops;
    private EngineMetrics metrics;
    /** This thread's reusable iterator is in a walk (a nested walk, e.g. a fault during a write's copy, gets its own). */
    private boolean inUse;
    private static final ThreadLocal<IomapIter> PER_THREAD = new ThreadLocal<>();
    public long pos;
    public long len;
    public Iomap iomap;
    /** Bytes done by the current step; negative means failure. */
    public long processed;
    /** What ->iomap_end is told the current step wrote, when less than it processed; -1 means {@link #processed}. */
    private long written = -1;
    private FsException failure;
    /** Set when a stale mapping was used because the validity check was switched off (bug stale-iomap). */
    public boolean usingStaleMap;

    @FunctionalInterface
    public interface Actor {
        /** Processes [iter.pos, iter.pos + iter.length()) of iter.iomap; returns the bytes done. */
        long apply(IomapIter iter);
    }

    public IomapIter(Inode inode, long pos, long len, int flags, IomapOps ops, EngineMetrics metrics) {
        this.inode = inode;
        this.pos = pos;
        this.len = len;
        this.flags = flags;
        this.ops = ops;
        this.metrics = metrics;
    }

    /**
     * An iterator for one walk, reusing this thread's (a hot path then allocates none per call; struct iomap_iter
     * lives on the kernel's stack); hand it back with {@link #release} when the walk is over.
     */
    public static IomapIter acquire(Inode inode, long pos, long len, int flags, IomapOps ops, EngineMetrics metrics) {
        IomapIter it = PER_THREAD.get();
        if (it == null) {
            it = new IomapIter(inode, pos, len, flags, ops, metrics);
            PER_THREAD.set(it);
        } else if (it.inUse) {
            return new IomapIter(inode, pos, len, flags, ops, metrics);
        } else {
            it.inode = inode;
            it.pos = pos;
            it.len = len;
            it.flags = flags;
            it.ops = ops;
            it.metrics = metrics;
            it.iomap = null;
            it.processed = 0;
            it.written = -1;
            it.failure = null;
            it.usingStaleMap = false;
        }
        it.inUse = true;
        return it;
    }

    /** Ends a walk begun with {@link #acquire}: the iterator keeps no reference to the inode or its mapping. */
    public void release() {
        inUse = false;
        inode = null;
        iomap = null;
        ops = null;
        failure = null;
    }

    public IomapOps ops() { return ops; }

    /**
     * Tells ->iomap_end that the current step wrote only {@code bytes}, though the iteration goes on past them
     * (as XFS_ERRTAG_DROP_WRITES made xfs_buffered_write_iomap_end see a failed write).
     */
    public void reportWritten(long bytes) {
        written = bytes;
    }

    /** iomap_length(): what remains of the request inside the current mapping. */
    public long length() {
        return Math.min(len, iomap.end() - pos);
    }

    /**
     * Runs the whole walk; returns the total bytes processed. A failing step's error is thrown after
     * ->iomap_end, unless earlier steps made progress, which is then returned (a short result, as
     * iomap_file_buffered_write returns iter.pos - ki_pos).
     */
    public long run(Actor actor) {
        long start = pos;
        try {
            while (next()) {
                try {
                    processed = actor.apply(this);
                } catch (FsException e) {
                    fail(e);
                }
            }
        } catch (FsException e) {
            return finish(start, e);
        }
        return pos - start;
    }

    /**
     * The loop form of {@link #run}, as the kernel's callers write it ({@code while ((ret = iomap_iter(&iter,
     * ops)) > 0) iter.processed = actor(&iter);}), for hot paths whose actor needs arguments a lambda would
     * capture anew on every call: the caller sets {@link #processed}, or {@link #fail}s the step, and ends with
     * {@link #finish} when {@code next} throws.
     */
    public boolean iterate() {
        return next();
    }

    /** The current step failed with {@code e}: thrown by the next {@link #iterate} after ->iomap_end. */
    public void fail(FsException e) {
        processed = -1;
        failure = e;
    }

    /** What {@link #run} returns when the walk that began at {@code start} ended with {@code e}. */
    public long finish(long start, FsException e) {
        if (pos > start) {
            return pos - start;
        }
        throw e;
    }

    private boolean next() {
        boolean stale = false;
        if (iomap != null) {
            IomapOps.End end = ops.end();
            if (end != null) {
                long done = written >= 0 ? Math.min(written, Math.max(processed, 0)) : Math.max(processed, 0);
                end.end(inode, pos, length(), done, flags, iomap);
            }
            if (processed < 0) {
                throw failure;
            }
            stale = iomap.isStale();
            if (processed == 0 && !stale) {
                return false;
            }
            if (processed > length()) {
                throw new IllegalStateException("iomap actor processed " + processed + " > " + length());
            }
            pos += processed;
            len -= processed;
            if (len == 0) {
                return false;
            }
        }
        processed = 0;
        written = -1;
        iomap = ops.begin(inode, pos, len, flags);
        metrics.iomapBegins.increment();
        if (stale) {
            metrics.remaps.increment();
        }
        if (iomap.isStale() || iomap.offset > pos || iomap.end() <= pos) {
            throw new IllegalStateException("iomap_begin returned " + iomap + " for pos " + pos);
        }
        return true;
    }
}
