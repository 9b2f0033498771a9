package org.iomapfs.fuse;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.function.ToDoubleFunction;
import org.iomapfs.core.api.CacheInvalidation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Makes the engine's losses visible to programs that read through the kernel's page cache: each range the engine
 * hands out ({@link CacheInvalidation}) becomes a FUSE_NOTIFY_INVAL_INODE for every FUSE node id that stands for
 * the engine inode (libfuse 2.9's {@code fuse_lowlevel_notify_inval_inode}). In the kernel,
 * fuse_reverse_inval_inode (fs/fuse/inode.c) bumps the attribute version and runs invalidate_inode_pages2_range
 * over the pages of the range: mapped pages are unmapped, dirty ones laundered (written to the daemon first by a
 * WRITE), clean ones dropped, so the next read or fault comes from the daemon. Dropping clean pages never loses
 * data (the daemon has them), so a mode that sends too much only costs re-reads.
 *
 * <p>libfuse 2's high-level API hides node ids, so the pool loop ({@link SessionLoop}) reads each request's
 * {@code fuse_in_header.nodeid}; requests on an open file (READ, WRITE, FLUSH, FSYNC, ...) carry the file's own,
 * which {@link #seen} records against the engine inode of the handle, and FORGET/BATCH_FORGET drop it (the
 * kernel evicted that inode, so it caches nothing more). With hard links each name is its own node id.
 *
 * <p>Never sent from a request thread: the kernel may hold the page lock of a page in the range while it waits
 * for that very request (fuse_perform_write keeps the pages it fills locked until the WRITE is answered, a READ
 * for readahead holds its pages locked), and invalidate_inode_pages2_range waits for that lock; libfuse's
 * fuse_lowlevel.h says the same of the notify calls. Engine threads only queue the range (lock-free, they may
 * hold engine locks) and unpark this thread, which coalesces ranges per inode and writes the notifications. It
 * holds no engine lock while the kernel runs the invalidation, and the laundering WRITEs it may wait for are
 * served by the pool threads, which never wait for it.
 */
final class KernelInvalidator implements CacheInvalidation, AutoCloseable {
    private final long channel;
    private final Map<Long, Long> inoOfNode = new ConcurrentHashMap<>();
    private final Map<Long, Set<Long>> nodesOfIno = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<long[]> pending = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile boolean stopping;
    /** Ranges handed in by the engine, and those of them that were handled (sent or found nothing to send). */
    private final AtomicLong queued = new AtomicLong();
    private long handled; // guarded by this (a leaf monitor: only counted and waited on)
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong notCached = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();

    KernelInvalidator(long channel) {
        this.channel = channel;
        this.thread = new Thread(this::run, "fuse-inval-notifier");
        thread.setDaemon(true);
        thread.start();
    }

    /** The request on node {@code nodeid} is on an open file of engine inode {@code ino}. */
    void seen(long nodeid, long ino) {
        Long was = inoOfNode.put(nodeid, ino);
        if (was == null || was != ino) {
            if (was != null) {
                removeNode(was, nodeid);
            }
            nodesOfIno.computeIfAbsent(ino, k -> ConcurrentHashMap.newKeySet()).add(nodeid);
        }
    }

    /** FORGET: the kernel no longer has an inode for {@code nodeid}. */
    void forget(long nodeid) {
        Long ino = inoOfNode.remove(nodeid);
        if (ino != null) {
            removeNode(ino, nodeid);
        }
    }

    private void removeNode(long ino, long nodeid) {
        nodesOfIno.computeIfPresent(ino, (k, s) -> {
            s.remove(nodeid);
            return s.isEmpty() ? null : s;
        });
    }

    @Override
    public void invalidate(long ino, long offset, long length, Cause cause) {
        pending.add(new long[] {ino, offset, offset + length});
        queued.incrementAndGet();
        LockSupport.unpark(thread);
    }

    private void run() {
        while (!stopping) {
            if (pending.isEmpty()) {
                LockSupport.park(this);
                continue;
            }
            Map<Long, List<long[]>> byIno = new HashMap<>();
            int n = 0;
            for (long[] r; (r = pending.poll()) != null; n++) {
                byIno.computeIfAbsent(r[0], k -> new ArrayList<>()).add(r);
            }
            try {
                byIno.forEach(this::send);
            } catch (RuntimeException e) {
                failed.incrementAndGet();
                Log.error("kernel cache invalidation failed", e);
            }
            synchronized (this) {
                handled += n;
                notifyAll();
            }
        }
    }

    /** Merges overlapping or touching ranges of one inode, then notifies each node id of it once per range. */
    private void send(long ino, List<long[]> ranges) {
        Set<Long> nodes = nodesOfIno.get(ino);
        if (nodes == null || nodes.isEmpty()) {
            return;
        }
        ranges.sort((a, b) -> Long.compare(a[1], b[1]));
        List<long[]> merged = new ArrayList<>();
        for (long[] r : ranges) {
            long[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && r[1] <= last[1]) {
                last[1] = Math.max(last[1], r[2]);
            } else {
                merged.add(new long[] {r[1], r[2]});
            }
        }
        Native.LibFuse2 f = Native.fuse();
        for (long node : nodes) {
            for (long[] r : merged) {
                int rc = f.fuse_lowlevel_notify_inval_inode(channel, node, r[0], r[1] - r[0]);
                if (rc == 0) {
                    sent.incrementAndGet();
                } else if (rc == -FuseErrno.ENOENT) {
                    notCached.incrementAndGet();
                } else {
                    failed.incrementAndGet();
                }
            }
        }
    }

    long queued() { return queued.get(); }

    long sent() { return sent.get(); }

    long notCached() { return notCached.get(); }

    long failed() { return failed.get(); }

    /** Waits until every range queued before the call has been handled; false on timeout. */
    synchronized boolean awaitHandled(long timeout, TimeUnit unit) throws InterruptedException {
        long target = queued.get();
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (handled < target) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** Stops the thread; call before the session and its channel are destroyed. */
    @Override
    public void close() {
        stopping = true;
        LockSupport.unpark(thread);
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Counts of the kernel cache invalidation ({@link KernelInvalidator}) as {@code iomapfs_kernel_inval_total}
     * with {@code result} queued (ranges the engine handed out), sent, not_cached (the kernel had no inode for
     * the node id) and failed. Nothing is registered without an invalidator (the stock loop).
     */
    static void registerMeters(KernelInvalidator inv, MeterRegistry registry) {
        if (inv == null) {
            return;
        }
        Map<String, ToDoubleFunction<KernelInvalidator>> counts = Map.of("queued", KernelInvalidator::queued,
            "sent", KernelInvalidator::sent, "not_cached", KernelInvalidator::notCached, "failed", KernelInvalidator::failed);
        counts.forEach((result, fn) -> FunctionCounter.builder("iomapfs.kernel.inval", inv, fn).tag("result", result)
            .description("kernel page-cache invalidations of ranges the engine changed behind the kernel's back")
            .register(registry));
    }

    /**
     * Records which FUSE node id this request on an open engine file came on (the request's own node: READ,
     * WRITE, FLUSH, FSYNC, GETATTR and SETATTR with a handle, FALLOCATE, OPEN), for the kernel cache
     * invalidation. One comparison per request once known.
     */
    static HandleTable.Handle track(KernelInvalidator inv, HandleTable.Handle h) {
        if (inv != null && h.ino >= 0) {
            long node = SessionLoop.currentNodeId();
            if (node != 0 && node != h.nodeid) {
                h.nodeid = node;
                inv.seen(node, h.ino);
            }
        }
        return h;
    }
}
