package org.iomapfs.shim.partialblock;

import org.iomapfs.shim.io.Budget;
import org.iomapfs.shim.io.Control;
import org.iomapfs.shim.io.DaemonRead;
import org.iomapfs.shim.io.Summary;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
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
        + "Checks every round through the daemon.",
        "Exit 0: no corruption; 1: corruption; 2: bad arguments; 3: an I/O failure."})
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
        description = "when to trigger after starting the write (default: half of inject/write_delay_ms)")
    Long triggerAfterMs;
    @Option(names = "--daemon-read", defaultValue = "odirect", paramLabel = "HOW",
        description = "odirect or both (O_DIRECT and a read after a kernel cache drop) (default: ${DEFAULT-VALUE})")
    String daemonRead;
    @Option(names = "--rounds", defaultValue = "0", description = "at most this many rounds (default: 1 without other bounds)")
    long rounds;
    @Option(names = "--ops", defaultValue = "0", description = "stop after this many rounds (one racing write each)")
    long ops;
    @Option(names = "--duration", defaultValue = "0", converter = Budget.DurationConverter.class,
        description = "stop starting rounds after this long (500ms, 30s, 2m)")
    long durationMs;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new PartialBlockWrite());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("partial-block-write: " + (ex instanceof IOException ? ex.getMessage() : ex.toString()));
            return 3;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        CommandLine self = new CommandLine(this);
        if (blocks < 2) {
            throw new CommandLine.ParameterException(self, "--blocks must be at least 2");
        }
        if (!trigger.equals("control") && !trigger.equals("none")) {
            throw new CommandLine.ParameterException(self, "bad --trigger '" + trigger + "' (control or none)");
        }
        if (!daemonRead.equals("odirect") && !daemonRead.equals("both")) {
            throw new CommandLine.ParameterException(self, "bad --daemon-read '" + daemonRead + "' (odirect or both)");
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
            long after = triggerAfterMs != null ? triggerAfterMs : delay / 2;
            return loop(ctl, after, delay);
        } finally {
            if (oldDelay != null) {
                ctl.get().set("inject/write_delay_ms", oldDelay);
            }
        }
    }

    private int loop(Optional<Control> ctl, long triggerAfter, long delay) throws Exception {
        Budget budget = new Budget(rounds, ops, durationMs, 1);
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
            exec("fallocate", "--length", Long.toString(size), file.toString()); // fallocate(2) mode 0: unwritten
            long bad;
            long diff;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                write(ch, size - 1, new byte[]{DIRTY});
                byte[] fill = new byte[(blocks - 1) * PAGE + 1];
                java.util.Arrays.fill(fill, FILL);
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
                    TimeUnit.MILLISECONDS.sleep(triggerAfter);
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
        detail.put("trigger", trigger + (trigger.equals("control") ? " after " + triggerAfter + " ms" : ""));
        detail.put("lostDirtyBytes", badRounds);
        System.out.println(new Summary("partial-block-write", done, done, badRounds, badBytes, firstMs,
            budget.elapsedMs(), detail).line());
        return badRounds > 0 || badBytes > 0 ? 1 : 0;
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

    private static void exec(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
