package org.iomapfs.shim.partialblock;

import org.iomapfs.shim.io.Budget;
import org.iomapfs.shim.io.Control;
import org.iomapfs.shim.io.DaemonRead;
import org.iomapfs.shim.io.Summary;
import org.iomapfs.shim.sys.Cli;
import org.iomapfs.shim.sys.LibC;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * xfs/559 against a mount (the stale cached iomap of d7b64041164c / 304a68b9c63b): fallocate BLOCKS pages
 * (unwritten), dirty the last byte (0x58), then a slow pwrite of (BLOCKS-1) pages + 1 byte of 0x57 from offset 0,
 * whose end lands one byte into the last page. While that write sits between ->iomap_begin and its folio lock
 * (inject/write_delay_ms), the last folio is written back (I/O completion converts its block to written) and
 * evicted; xfs/559 does this with sync_file_range and madvise(MADV_DONTNEED), here the mount's sync and
 * drop_caches controls do it inside the daemon (a kernel fsync would wait for the write's inode lock). A
 * write that trusts its stale UNWRITTEN map zeroes the new last folio and the dirty byte is lost.
 *
 * <p>Every round uses a fresh file and is checked through the daemon (fsync, then O_DIRECT; with
 * --daemon-read both also an ordinary read after a kernel cache drop).
 */
@Command(name = "partial-block-write", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
    description = {"xfs/559: a long buffered write ending one byte into the last page of a preallocated range, "
        + "racing with writeback and reclaim of that page, whose last byte was dirtied first. "
        + "Checks every round through the daemon. An op (--ops) is a round; one round without a bound.",
        "Exit 0: no corruption; 1: corruption, or a call that failed (one line, no RESULT line); 2: bad arguments."})
public final class PartialBlockWrite implements Callable<Integer> {
    static final int PAGE = 4096;
    /** xfs/559's bytes: the dirtied last byte and the long write. */
    static final byte DIRTY = 0x58;
    static final byte FILL = 0x57;

    @Parameters(index = "0", paramLabel = "FILE", description = "file to create on the mount (must not exist)")
    Path file;
    @Option(names = "--blocks", defaultValue = "10", description = "pages preallocated (xfs/559: ${DEFAULT-VALUE})")
    int blocks;
    @Option(names = "--write-delay-ms", paramLabel = "MS",
        description = "set the mount's inject/write_delay_ms for the run, as xfs/559 sets the error tag "
            + "(restored at the end; default: leave the mount's value)")
    Integer writeDelayMs;
    @Option(names = "--trigger", defaultValue = "control", paramLabel = "HOW",
        description = "control: write the mount's sync and drop_caches controls during the write; none: leave "
            + "writeback and eviction to the daemon's flusher and reclaim knobs (default: ${DEFAULT-VALUE})")
    String trigger;
    @Option(names = "--trigger-after-ms", paramLabel = "MS",
        description = "trigger this long after starting the write (default: once the mount's "
            + "iomapfs_iomap_begins_total shows the write reached ->iomap_begin, plus a tenth of the delay)")
    Long triggerAfterMs;
    @Option(names = "--daemon-read", defaultValue = "odirect", paramLabel = "HOW",
        description = "odirect or both (O_DIRECT and a read after a kernel cache drop) (default: ${DEFAULT-VALUE})")
    String daemonRead;
    /** --rounds, --ops (an op is a round: one racing write), --duration; one round without any. */
    @Mixin
    Budget.Options bounds = new Budget.Options();

    public static void main(String[] args) {
        System.exit(Cli.run("partial-block-write", new PartialBlockWrite(), args));
    }

    @Override
    public Integer call() throws Exception {
        if (blocks < 2) {
            throw new Cli.BadArgument("--blocks must be at least 2");
        }
        if (!trigger.equals("control") && !trigger.equals("none")) {
            throw new Cli.BadArgument("bad --trigger '" + trigger + "' (control or none)");
        }
        if (!daemonRead.equals("odirect") && !daemonRead.equals("both")) {
            throw new Cli.BadArgument("bad --daemon-read '" + daemonRead + "' (odirect or both)");
        }
        if (Files.exists(file)) {
            throw new IOException(file + ": exists (the workload creates its file)");
        }
        Optional<Control> ctl = Control.near(file);
        if (ctl.isEmpty() && (trigger.equals("control") || writeDelayMs != null)) {
            throw new IOException(file + " is not on an iomapfs mount (no .iomapfs/ above it): --trigger control "
                + "and --write-delay-ms need one");
        }
        String oldDelay = null;
        if (writeDelayMs != null) {
            oldDelay = ctl.get().get("inject/write_delay_ms");
            ctl.get().set("inject/write_delay_ms", Integer.toString(writeDelayMs));
        }
        try {
            long delay = ctl.isPresent() && ctl.get().has("inject/write_delay_ms")
                ? Long.parseLong(ctl.get().get("inject/write_delay_ms")) : 0;
            return loop(ctl, triggerAfterMs, delay);
        } finally {
            if (oldDelay != null) {
                ctl.get().set("inject/write_delay_ms", oldDelay);
            }
        }
    }

    private int loop(Optional<Control> ctl, Long triggerAfter, long delay) throws Exception {
        Budget budget = bounds.start(1);
        long done = 0;
        long lostBytes = 0;
        long badRounds = 0;
        long badBytes = 0;
        long firstMs = -1;
        long lastProgress = 0;
        long size = (long) blocks * PAGE;
        byte[] expect = expected(blocks);
        while (budget.more(done, done)) {
            Files.createFile(file);
            try (LibC.Fd fd = LibC.Fd.openReadWrite(file)) {
                fd.fallocate(0, 0, size); // xfs/559's falloc: mode 0, unwritten extents
            }
            long bad;
            long diff;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                write(ch, size - 1, new byte[]{DIRTY});
                byte[] fill = new byte[(blocks - 1) * PAGE + 1];
                java.util.Arrays.fill(fill, FILL);
                double begins = trigger.equals("control") ? begins(ctl.get()) : 0;
                AtomicReference<Throwable> failed = new AtomicReference<>();
                Thread w = new Thread(() -> {
                    try {
                        write(ch, 0, fill);
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                }, "slow-pwrite");
                w.start();
                if (trigger.equals("control")) {
                    if (triggerAfter != null) {
                        TimeUnit.MILLISECONDS.sleep(triggerAfter);
                    } else {
                        // xfs/559 sleeps a second against a 500 ms delay; waiting for the write's ->iomap_begin
                        // does not depend on how fast this machine gets the write to the daemon
                        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay);
                        while (begins(ctl.get()) <= begins && w.isAlive() && System.nanoTime() < deadline) {
                            TimeUnit.MILLISECONDS.sleep(2);
                        }
                        TimeUnit.MILLISECONDS.sleep(delay / 10);
                    }
                    // writeback of the dirty last folio (completion converts its block), then reclaim of it
                    ctl.get().set("sync", "1");
                    ctl.get().set("drop_caches", "1");
                }
                w.join();
                if (failed.get() != null) {
                    throw new IOException("the long write failed: " + failed.get(), failed.get());
                }
                ch.force(true);
            }
            long[] d = check(size, expect, "daemon (O_DIRECT)", true);
            bad = d[0];
            diff = d[1];
            if (daemonRead.equals("both") && DaemonRead.dropKernelCaches()) {
                long[] c = check(size, expect, "daemon (after drop_caches)", false);
                bad = Math.max(bad, c[0]);
                diff = Math.max(diff, c[1]);
            }
            done++;
            if (bad > 0 || diff > 0) {
                badRounds += bad;
                badBytes += diff;
                if (firstMs < 0) {
                    firstMs = budget.elapsedMs();
                }
            }
            Files.delete(file);
            if (budget.elapsedMs() - lastProgress >= 1000) {
                lastProgress = budget.elapsedMs();
                System.out.println(Summary.progress(done, badRounds, lastProgress));
            }
        }
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("blocks", blocks);
        detail.put("writeDelayMs", delay);
        detail.put("trigger", trigger + (!trigger.equals("control") ? ""
            : triggerAfter != null ? " after " + triggerAfter + " ms" : " after the write's iomap_begin + " + delay / 10 + " ms"));
        detail.put("lostDirtyBytes", badRounds);
        System.out.println(new Summary("partial-block-write", done, done, badRounds, badBytes, firstMs,
            budget.elapsedMs(), detail).line());
        return badRounds > 0 || badBytes > 0 ? 1 : 0;
    }

    /** The mount's count of ->iomap_begin calls (0 where the metric is missing). */
    private static double begins(Control c) throws IOException {
        return c.samples().getOrDefault("iomapfs_iomap_begins_total", 0.0);
    }

    /** xfs/559's file.compare: 0x57 over (blocks-1) pages + 1 byte, zeros, 0x58 in the last byte. */
    static byte[] expected(int blocks) {
        byte[] e = new byte[blocks * PAGE];
        java.util.Arrays.fill(e, 0, (blocks - 1) * PAGE + 1, FILL);
        e[e.length - 1] = DIRTY;
        return e;
    }

    /** {lost dirty byte (0 or 1), differing bytes}; prints the first differing range. */
    private long[] check(long size, byte[] expect, String where, boolean direct) throws IOException {
        long[] out = new long[2];
        DaemonRead.Sink sink = (pos, buf) -> {
            for (int i = buf.position(); i < buf.limit(); i++) {
                long off = pos + i - buf.position();
                byte got = buf.get(i);
                if (got != expect[(int) off]) {
                    if (out[1]++ == 0) {
                        System.out.printf("ERROR: %s: offset %d: 0x%02x != 0x%02x%n", where, off, got, expect[(int) off]);
                    }
                    if (off == size - 1) {
                        out[0] = 1;
                    }
                }
            }
        };
        if (direct) {
            DaemonRead.direct(file, size, sink);
        } else {
            DaemonRead.buffered(file, size, sink);
        }
        if (out[1] > 0) {
            System.out.printf("ERROR: %s: %d byte(s) differ from xfs/559's file.compare%s%n", where, out[1],
                out[0] > 0 ? ", the dirtied last byte among them" : "");
        }
        return out;
    }

    private static void write(FileChannel ch, long pos, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }
}
