package org.iomapfs.shim.compare;

import org.iomapfs.shim.fsx.FsxLoop;
import org.iomapfs.shim.holetest.Holetest;
import org.iomapfs.shim.partialblock.PartialBlockWrite;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The workloads compare can run: a main class of this module started as its own process against a file on
 * the mount, with the injections that make its race reachable (the user's --inject values win). {@link #units}
 * says what an op and a corrupted marker are for each, since the table's columns are shared.
 */
public enum Workload {
    /**
     * generic/346's holetest -w, looped over fresh sparse 16-page files: 8-byte pwrites and mapped stores into
     * the same pages while a third thread calls syncfs, so page writeback reaches the daemon while writes are
     * in flight; half the copy-ins fail with nothing copied and writes pause 2 ms after ->iomap_begin, so the
     * failed-write cleanup (118e021b4b66, 198dd8aedee6, f43dc4dc3eff) runs next to the fault path's folios.
     */
    PWRITE_VS_MMAP("pwrite-vs-mmap", "generic/346 (holetest -w) looped on fresh sparse files, syncfs during the race",
        Units.HOLETEST, knobs("copyin_fail", "0.5", "copyin_bytes", "0", "write_delay_ms", "2")) {
        @Override
        List<String> args(Path file, Path logDir) {
            return List.of(Holetest.class.getName(), "-f", "-w", "--sizing", "ftruncate", "--msync-ms", "1",
                "--flush", "syncfs", "--daemon-read", "odirect", file.toString(), "64K");
        }
    },
    /** generic/344-345's holetest without -w, looped: both writers store through the mapping. */
    MMAP_VS_MMAP("mmap-vs-mmap", "generic/344-345 (holetest) looped on fresh sparse files, syncfs during the race",
        Units.HOLETEST, knobs("copyin_fail", "0.5", "copyin_bytes", "0")) {
        @Override
        List<String> args(Path file, Path logDir) {
            return List.of(Holetest.class.getName(), "-f", "--sizing", "ftruncate", "--msync-ms", "1",
                "--flush", "syncfs", "--daemon-read", "odirect", file.toString(), "64K");
        }
    },
    /** holetest -w as fstests runs it (16 MiB, the four sizing methods in turn), no injection. */
    HOLETEST("holetest", "generic/346 as fstests runs it: holetest -f -w FILE 16, four sizing methods",
        Units.HOLETEST, Map.of()) {
        @Override
        List<String> args(Path file, Path logDir) {
            return List.of(Holetest.class.getName(), "-f", "-w", "--daemon-read", "odirect", file.toString(), "16");
        }
    },
    /** xfs/559: a slow write ending one byte into a page that writeback and reclaim take away (stale iomap). */
    PARTIAL_BLOCK("partial-block", "xfs/559: slow write ending 1 byte into a page written back and evicted meanwhile",
        Units.PARTIAL_BLOCK, Map.of("write_delay_ms", "200")) {
        @Override
        List<String> args(Path file, Path logDir) {
            return List.of(PartialBlockWrite.class.getName(), "--trigger", "control", file.toString());
        }
    },
    /**
     * fstests' fsx (ltp/fsx.c) in rounds of 1000 operations on fresh files: the mapped writes' page faults meet
     * short copy-ins (a fifth fail with nothing copied), the path of mkwrite-uses-write-ops (118e021b4b66): the
     * buggy fault punches the delalloc under the page it just dirtied. The kernel's page cache still holds the
     * data, so fsx's own reads rarely see the loss (measured: one failing round per ~1000 operations); a
     * whole-file O_DIRECT check through the daemon every 50 operations finds it within ~100.
     */
    FSX("fsx", "fsx (ltp/fsx.c, generic/075-like) in rounds of 1000 ops on fresh files: reads, writes, mapped "
        + "reads and writes, truncate, fallocate, punch, zero range, fsync; checked against a shadow copy, the "
        + "whole file through the daemon every 50 ops", Units.FSX, knobs("copyin_fail", "0.2", "copyin_bytes", "0")) {
        @Override
        List<String> args(Path file, Path logDir) {
            return fsx(file, logDir);
        }
    },
    /** fsx -Z (generic/091, 263): reads and writes through O_DIRECT; mapped ones still through the page cache. */
    FSX_DIRECT("fsx-direct", "fsx -Z (generic/263-like) in rounds of 1000 ops: O_DIRECT reads and writes, mapped "
        + "reads and writes through the page cache; the whole file through the daemon every 50 ops", Units.FSX,
        knobs("copyin_fail", "0.2", "copyin_bytes", "0")) {
        @Override
        List<String> args(Path file, Path logDir) {
            return fsx(file, logDir, "-Z");
        }
    };

    /** fsx-loop on FILE, failing rounds' logs in logDir, each round checking the daemon's copy every 50 ops. */
    static List<String> fsx(Path file, Path logDir, String... more) {
        List<String> a = new ArrayList<>(List.of(FsxLoop.class.getName(), "-P", logDir.toString(), file.toString(),
            "--", "--check-every", "50", "--daemon-read", "odirect", "-q"));
        a.addAll(List.of(more));
        return a;
    }

    /**
     * The units of the shared columns (a nested record: enum constants may not name the enum's own statics):
     * the chart axes' short names for a rate of ops and a count of bad markers, and the table's longer text.
     */
    record Units(String rate, String markers, String text) {
        static final Units HOLETEST = new Units("marker stores/s", "lost markers", "ops: 8-byte marker stores; bad "
            + "markers: markers found missing through the mapping or, after fsync, through the daemon (O_DIRECT); bad "
            + "bytes: wrong bytes, in the markers and in the zeros between them");
        static final Units PARTIAL_BLOCK = new Units("racing writes/s", "rounds that lost the byte", "ops: rounds "
            + "(one racing write each); bad markers: rounds whose dirtied last byte (0x58) was lost; bad bytes: bytes "
            + "differing from xfs/559's file.compare");
        static final Units FSX = new Units("fsx ops/s", "failing fsx rounds", "ops: fsx operations; bad markers: "
            + "failing fsx rounds (fsx stops at its first mismatch, so at most one per round); bad bytes: the bytes "
            + "the failing reads found wrong");
    }

    public final String label;
    public final String description;
    /** What the ops, bad markers and bad bytes columns count for this workload. */
    public final String units;
    /** The chart axes: what one op per second and one bad marker are, in a few words. */
    final String rateUnit;
    final String markerUnit;
    /** inject/KNOB values set for this workload unless the user gives the knob. */
    public final Map<String, String> injections;

    Workload(String label, String description, Units units, Map<String, String> injections) {
        this.label = label;
        this.description = description;
        this.units = units.text();
        this.rateUnit = units.rate();
        this.markerUnit = units.markers();
        this.injections = injections;
    }

    /** Main class and its arguments, without the run bounds; logDir is for files the workload keeps (fsx's logs). */
    abstract List<String> args(Path file, Path logDir);

    /** Main class and arguments with the bounds: --ops N, --duration MS (the workload's own meaning of an op). */
    List<String> command(Path file, Path logDir, long ops, long durationMs) {
        List<String> a = new ArrayList<>(args(file, logDir));
        if (ops > 0) {
            a.add(1, "--ops=" + ops);
        }
        if (durationMs > 0) {
            a.add(1, "--duration=" + durationMs + "ms");
        }
        return a;
    }

    /** The injections for one run: this workload's defaults, then the user's. */
    Map<String, String> injections(Map<String, String> user) {
        Map<String, String> m = new LinkedHashMap<>(injections);
        m.putAll(user);
        return m;
    }

    private static Map<String, String> knobs(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    /** One workload by its label. */
    public static Workload parse(String s) {
        return byLabel(s).orElseThrow(() -> new IllegalArgumentException("unknown workload '" + s + "' ("
            + String.join(", ", Arrays.stream(values()).map(w -> w.label).toList()) + ", or all)"));
    }

    static Optional<Workload> byLabel(String s) {
        return Arrays.stream(values()).filter(w -> w.label.equals(s)).findFirst();
    }
}
