package org.iomapfs.shim.compare;

import org.iomapfs.shim.holetest.Holetest;
import org.iomapfs.shim.partialblock.PartialBlockWrite;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The workloads compare can run: a main class of this module started as its own process against a file on
 * the mount, with the injections that make its race reachable (the user's --inject values win).
 */
public enum Workload {
    /**
     * generic/346's holetest -w, looped over fresh sparse 16-page files: 8-byte pwrites and mapped stores into
     * the same pages while a third thread calls syncfs, so page writeback reaches the daemon while writes are
     * in flight; half the copy-ins fail with nothing copied and writes pause 2 ms after ->iomap_begin, so the
     * failed-write cleanup (118e021b4b66, 198dd8aedee6, f43dc4dc3eff) runs next to the fault path's folios.
     */
    PWRITE_VS_MMAP("pwrite-vs-mmap", "generic/346 (holetest -w) looped on fresh sparse files, syncfs during the race",
        knobs("copyin_fail", "0.5", "copyin_bytes", "0", "write_delay_ms", "2")) {
        @Override
        List<String> args(Path file) {
            return List.of(Holetest.class.getName(), "-f", "-w", "--sizing", "ftruncate", "--msync-ms", "1",
                "--flush", "syncfs", "--daemon-read", "odirect", file.toString(), "64K");
        }
    },
    /** generic/344-345's holetest without -w, looped: both writers store through the mapping. */
    MMAP_VS_MMAP("mmap-vs-mmap", "generic/344-345 (holetest) looped on fresh sparse files, syncfs during the race",
        knobs("copyin_fail", "0.5", "copyin_bytes", "0")) {
        @Override
        List<String> args(Path file) {
            return List.of(Holetest.class.getName(), "-f", "--sizing", "ftruncate", "--msync-ms", "1",
                "--flush", "syncfs", "--daemon-read", "odirect", file.toString(), "64K");
        }
    },
    /** holetest -w as fstests runs it (16 MiB, the four sizing methods in turn), no injection. */
    HOLETEST("holetest", "generic/346 as fstests runs it: holetest -f -w FILE 16, four sizing methods", Map.of()) {
        @Override
        List<String> args(Path file) {
            return List.of(Holetest.class.getName(), "-f", "-w", "--daemon-read", "odirect", file.toString(), "16");
        }
    },
    /** xfs/559: a slow write ending one byte into a page that writeback and reclaim take away (stale iomap). */
    PARTIAL_BLOCK("partial-block", "xfs/559: slow write ending 1 byte into a page written back and evicted meanwhile",
        Map.of("write_delay_ms", "200")) {
        @Override
        List<String> args(Path file) {
            return List.of(PartialBlockWrite.class.getName(), "--trigger", "control", file.toString());
        }
    };

    public final String label;
    public final String description;
    /** inject/KNOB values set for this workload unless the user gives the knob. */
    public final Map<String, String> injections;

    Workload(String label, String description, Map<String, String> injections) {
        this.label = label;
        this.description = description;
        this.injections = injections;
    }

    /** Main class and its arguments, without the run bounds. */
    abstract List<String> args(Path file);

    /** Main class and arguments with the bounds: --ops N, --duration MS (the workload's own meaning of an op). */
    List<String> command(Path file, long ops, long durationMs) {
        List<String> a = new ArrayList<>(args(file));
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

    public static Workload parse(String s) {
        for (Workload w : values()) {
            if (w.label.equals(s)) {
                return w;
            }
        }
        List<String> names = new ArrayList<>();
        for (Workload w : values()) {
            names.add(w.label);
        }
        throw new IllegalArgumentException("unknown workload '" + s + "' (" + String.join(", ", names) + ")");
    }
}
