package org.iomapfs.core.inject;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.hooks.Hooks;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.pagecache.PageCache;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Runtime fault injection, in the spirit of XFS error tags ({@code /sys/fs/xfs/DEV/errortag/}, where
 * {@code write_delay_ms} and {@code wb_delay_ms} come from): delays, short copy-ins, writeback EIO and reclaim
 * pressure, each aimed by inode, byte range and N-th occurrence. Probabilities draw from one seeded source, so
 * a run is repeatable for a given seed and interleaving. Knobs act on operations that reach their point after
 * the change.
 *
 * <p>{@code block_ino=N} is not a fault but a stuck request on purpose, for the daemon's hung-task watchdog: every
 * read of inode N waits at {@link HookPoint#READ_BEGIN}, holding no engine lock, in an untimed wait (so the
 * thread makes no progress at all, as a task in D state) until the knob changes or the injector is closed.
 */
public final class Injector implements AutoCloseable {
    /** Every knob, by its control name (inject/NAME). */
    public enum Knob {
        WRITE_DELAY_MS("write_delay_ms"), WB_DELAY_MS("wb_delay_ms"), COPYIN_FAIL("copyin_fail"),
        COPYIN_BYTES("copyin_bytes"), WB_SUBMIT_EIO("wb_submit_eio"), WB_COMPLETE_EIO("wb_complete_eio"),
        SEED("seed"), TARGET_INO("target_ino"), TARGET_RANGE("target_range"), NTH("nth"),
        CACHE_BYTES("cache_bytes"), RECLAIM_EVERY_MS("reclaim_every_ms"), BLOCK_INO("block_ino");

        public final String id;

        Knob(String id) { this.id = id; }

        public static Knob byId(String id) {
            return Stream.of(values()).filter(k -> k.id.equals(id)).findFirst().orElse(null);
        }
    }

    /** The points that count occurrences for {@code nth}. */
    private enum Site { WRITE_DELAY, WB_DELAY, COPYIN, WB_SUBMIT, WB_COMPLETE }

    private static final long MAX_DELAY_MS = 60_000;

    private final Hooks hooks;
    private final PageCache cache;
    private final Map<Site, AtomicLong> seen = new EnumMap<>(Site.class);
    private Random random = new Random(0);
    private volatile int writeDelayMs;
    private volatile int wbDelayMs;
    private volatile double copyinFail;
    private volatile int copyinBytes = -1;
    private volatile double wbSubmitEio;
    private volatile double wbCompleteEio;
    private volatile long seed;
    private volatile long targetIno;
    private volatile long rangeStart;
    private volatile long rangeEnd = Long.MAX_VALUE;
    private volatile long nth;
    private volatile int reclaimEveryMs;
    private Thread reclaimer;
    /** Inode whose reads wait in {@link #blockRead} (0: none); changed and waited on under {@link #readGate}. */
    private volatile long blockIno;
    private final Object readGate = new Object();
    private final Hooks.Hook readBlocker = (p, inode, pos) -> blockRead(inode);
    private boolean closed;

    public Injector(Hooks hooks, PageCache cache) {
        this.hooks = hooks;
        this.cache = cache;
        for (Site s : Site.values()) {
            seen.put(s, new AtomicLong());
        }
        hooks.add(HookPoint.WRITE_AFTER_BEGIN, (p, inode, pos) -> delay(Site.WRITE_DELAY, writeDelayMs, inode, pos));
        hooks.add(HookPoint.WB_MAPPED, (p, inode, pos) -> delay(Site.WB_DELAY, wbDelayMs, inode, pos));
        hooks.setCopyInFault(this::copyInAllowed);
        hooks.setWbSubmitFault((inode, pos) -> wbSubmitEio > 0 && fires(Site.WB_SUBMIT, wbSubmitEio, inode, pos, 1));
        hooks.setWbCompleteFault((inode, pos) -> wbCompleteEio > 0 && fires(Site.WB_COMPLETE, wbCompleteEio, inode, pos, 1));
    }

    public List<String> names() {
        return Stream.of(Knob.values()).map(k -> k.id).toList();
    }

    public synchronized String read(Knob k) {
        return switch (k) {
            case WRITE_DELAY_MS -> Integer.toString(writeDelayMs);
            case WB_DELAY_MS -> Integer.toString(wbDelayMs);
            case COPYIN_FAIL -> Double.toString(copyinFail);
            case COPYIN_BYTES -> copyinBytes < 0 ? "random" : Integer.toString(copyinBytes);
            case WB_SUBMIT_EIO -> Double.toString(wbSubmitEio);
            case WB_COMPLETE_EIO -> Double.toString(wbCompleteEio);
            case SEED -> Long.toString(seed);
            case TARGET_INO -> Long.toString(targetIno);
            case TARGET_RANGE -> rangeStart == 0 && rangeEnd == Long.MAX_VALUE ? "all" : rangeStart + "-" + rangeEnd;
            case NTH -> Long.toString(nth);
            case CACHE_BYTES -> Long.toString(cache.budgetBytes());
            case RECLAIM_EVERY_MS -> Integer.toString(reclaimEveryMs);
            case BLOCK_INO -> Long.toString(blockIno);
        };
    }

    /** Parses and applies one knob; a bad value throws EINVAL naming what is accepted, and changes nothing. */
    public synchronized void write(Knob k, String value) {
        String v = value.strip();
        switch (k) {
            case WRITE_DELAY_MS -> writeDelayMs = (int) parseLong(k, v, 0, MAX_DELAY_MS);
            case WB_DELAY_MS -> wbDelayMs = (int) parseLong(k, v, 0, MAX_DELAY_MS);
            case COPYIN_FAIL -> copyinFail = parseFraction(k, v);
            case COPYIN_BYTES -> copyinBytes = v.equals("random") ? -1 : (int) parseLong(k, v, 0, Integer.MAX_VALUE);
            case WB_SUBMIT_EIO -> wbSubmitEio = parseFraction(k, v);
            case WB_COMPLETE_EIO -> wbCompleteEio = parseFraction(k, v);
            case SEED -> {
                seed = parseLong(k, v, Long.MIN_VALUE, Long.MAX_VALUE);
                random = new Random(seed);
            }
            case TARGET_INO -> targetIno = parseLong(k, v, 0, Long.MAX_VALUE);
            case TARGET_RANGE -> {
                long[] r = parseRange(v);
                rangeStart = r[0];
                rangeEnd = r[1];
            }
            case NTH -> nth = parseLong(k, v, 0, Long.MAX_VALUE);
            case CACHE_BYTES -> cache.setBudgetBytes(parseLong(k, v, 4096, Long.MAX_VALUE));
            case RECLAIM_EVERY_MS -> setReclaimEvery((int) parseLong(k, v, 0, MAX_DELAY_MS));
            case BLOCK_INO -> setBlockIno(parseLong(k, v, 0, Long.MAX_VALUE));
        }
        // a new aim starts the occurrence count afresh, so "the N-th" means the N-th from now on
        seen.values().forEach(c -> c.set(0));
    }

    private static long parseLong(Knob k, String v, long min, long max) {
        try {
            long n = Long.parseLong(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new FsException(Errno.EINVAL, "inject/" + k.id + " takes an integer in [" + min + ", " + max + "], not '" + v + "'");
    }

    private static double parseFraction(Knob k, String v) {
        double d;
        try {
            d = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            d = -1;
        }
        if (!(d >= 0 && d <= 1)) {
            throw new FsException(Errno.EINVAL, "inject/" + k.id + " takes a fraction in [0, 1], not '" + v + "'");
        }
        return d;
    }

    private static long[] parseRange(String v) {
        if (v.equals("all")) {
            return new long[]{0, Long.MAX_VALUE};
        }
        String[] p = v.split("-", -1);
        try {
            if (p.length == 2) {
                long s = Long.parseLong(p[0]);
                long e = Long.parseLong(p[1]);
                if (s >= 0 && e > s) {
                    return new long[]{s, e};
                }
            }
        } catch (NumberFormatException ignored) {
            // falls through to the error below
        }
        throw new FsException(Errno.EINVAL, "inject/target_range takes 'all' or START-END bytes with START < END, not '" + v + "'");
    }

    /** Whether I/O on this inode at [pos, pos + len) is aimed at. */
    private boolean targets(Inode inode, long pos, long len) {
        long ino = targetIno;
        return (ino == 0 || inode.ino == ino) && pos < rangeEnd && pos + len > rangeStart;
    }

    /** One eligible occurrence at a site: does the fault fire? */
    private boolean fires(Site site, double probability, Inode inode, long pos, long len) {
        if (!targets(inode, pos, len)) {
            return false;
        }
        long n = seen.get(site).incrementAndGet();
        long want = nth;
        if (want > 0) {
            return n == want;
        }
        synchronized (this) {
            return probability >= 1 || random.nextDouble() < probability;
        }
    }

    private void delay(Site site, int ms, Inode inode, long pos) {
        if (ms > 0 && fires(site, 1, inode, pos, 1)) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private int copyInAllowed(Inode inode, long pos, int len) {
        double p = copyinFail;
        if (p <= 0 || len == 0 || !fires(Site.COPYIN, p, inode, pos, len)) {
            return len;
        }
        int fixed = copyinBytes;
        if (fixed >= 0) {
            return Math.min(fixed, len - 1);
        }
        synchronized (this) {
            return random.nextInt(len);
        }
    }

    private void setBlockIno(long ino) {
        synchronized (readGate) {
            // the hook is there only while a block is set: an idle READ_BEGIN costs every read nothing
            if (ino != 0 && blockIno == 0) {
                hooks.add(HookPoint.READ_BEGIN, readBlocker);
            } else if (ino == 0 && blockIno != 0) {
                hooks.remove(HookPoint.READ_BEGIN, readBlocker);
            }
            blockIno = ino;
            readGate.notifyAll();
        }
    }

    /**
     * inject/block_ino: a read of that inode waits here until the knob is changed or the engine closes. The wait
     * is untimed on purpose: a hung-task detector judges progress by wake-ups, and a timed re-check would be one.
     * An interrupt ends the wait (EINTR), as a fatal signal ends a killable sleep.
     */
    private void blockRead(Inode inode) {
        if (blockIno == 0 || inode.ino != blockIno) {
            return;
        }
        synchronized (readGate) {
            while (!closed && blockIno == inode.ino) {
                try {
                    readGate.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new FsException(Errno.EINTR, "read of inode " + inode.ino + " interrupted while blocked by inject/block_ino");
                }
            }
            if (closed) {
                throw new FsException(Errno.EIO, "engine closed while a read of inode " + inode.ino + " was blocked by inject/block_ino");
            }
        }
    }

    private void setReclaimEvery(int ms) {
        reclaimEveryMs = ms;
        if (ms > 0 && reclaimer == null) {
            reclaimer = new Thread(this::reclaimLoop, "iomapfs-inject-reclaim");
            reclaimer.setDaemon(true);
            reclaimer.start();
        }
    }

    /** Reclaim pressure: evicts every clean folio each reclaim_every_ms while the knob is on. */
    private void reclaimLoop() {
        while (!Thread.currentThread().isInterrupted()) {
            int ms = reclaimEveryMs;
            try {
                Thread.sleep(ms > 0 ? ms : 200);
            } catch (InterruptedException e) {
                return;
            }
            if (reclaimEveryMs > 0) {
                cache.dropClean();
            }
        }
    }

    @Override
    public synchronized void close() {
        if (reclaimer != null) {
            reclaimer.interrupt();
        }
        synchronized (readGate) {
            closed = true;
            readGate.notifyAll();
        }
    }
}
