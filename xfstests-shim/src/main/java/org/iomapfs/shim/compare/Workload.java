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
     * generic/346's holetest -w, looped over fresh sparse 64-page files: 8-byte pwrites and mapped stores into
     * the same pages while a third thread msyncs, so page writeback reaches the daemon during the writes; a
     * fraction of copy-ins come up short (the failed-write cleanup of f43dc4dc3eff / 118e021b4b66).
     */
    PWRITE_VS_MMAP("pwrite-vs-mmap", "generic/346 (holetest -w) on fresh sparse files, msync during the race",
        Map.of("copyin_fail", "0.05")) {
        @Override
        List<String> args(Path file) {
            return List.of(Holetest.class.getName(), "-f", "-w", "--sizing", "ftruncate", "--msync-ms", "1",
                "--daemon-read", "odirect", file.toString(), "256K");
        }
    },
    /** generic/345's holetest without -w, looped: both writers store through mappings. */
    MMAP_VS_MMAP("mmap-vs-mmap", "generic/344-345 (holetest) on fresh sparse files, msync during the race",
        Map.of("copyin_fail", "0.05")) {
        @Override
        List<String> args(Path file) {
            return List.of(Holetest.class.getName(), "-f", "--sizing", "ftruncate", "--msync-ms", "1",
                "--daemon-read", "odirect", file.toString(), "256K");
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
