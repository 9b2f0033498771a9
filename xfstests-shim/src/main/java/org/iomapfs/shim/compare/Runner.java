package org.iomapfs.shim.compare;

import org.iomapfs.shim.io.Control;
import org.iomapfs.shim.io.Summary;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Runs one workload against one target: sets its injections through the control files (restoring the old
 * values after), starts the workload as its own JVM on a fresh directory of the mount, relays its progress,
 * and takes the counters' increase from the mount's metrics.
 */
final class Runner {
    private final Map<String, String> userInjections;
    private final long ops;
    private final long durationMs;
    private final Path logDir;
    private final PrintStream progress;
    private final boolean live = System.console() != null;
    private int seq;

    Runner(Map<String, String> userInjections, long ops, long durationMs, Path logDir, PrintStream progress) {
        this.userInjections = userInjections;
        this.ops = ops;
        this.durationMs = durationMs;
        this.logDir = logDir;
        this.progress = progress;
    }

    RunResult run(Workload w, Target t, String step) throws IOException, InterruptedException {
        t.select();
        Control c = t.control;
        Map<String, String> knobs = w.injections(userInjections);
        Map<String, String> old = new LinkedHashMap<>();
        Map<String, String> applied = new LinkedHashMap<>();
        String label = step + " " + w.label + " " + t.mode;
        try {
            for (Map.Entry<String, String> k : knobs.entrySet()) {
                String key = "inject/" + k.getKey();
                if (!c.has(key)) {
                    if (userInjections.containsKey(k.getKey())) {
                        throw new IOException("the mount has no knob inject/" + k.getKey());
                    }
                    progress.println("compare: note: the mount has no inject/" + k.getKey() + "; " + w.label + " runs without it");
                    continue;
                }
                old.put(key, c.get(key));
                c.set(key, k.getValue());
                applied.put(k.getKey(), k.getValue());
            }
            Map<String, Double> before = c.samples();
            Path dir = t.mnt.resolve("compare." + w.label + "." + (++seq));
            Files.createDirectories(dir);
            Summary s;
            int rc;
            String error = null;
            long start = System.nanoTime();
            Path log = logDir.resolve(w.label + "." + t.mode + ".log");
            List<String> cmd = new ArrayList<>(List.of(Cli.java(), "-cp", System.getProperty("java.class.path")));
            cmd.addAll(w.command(dir.resolve("testfile"), logDir.resolve(w.label + "." + t.mode), ops, durationMs));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            Summary[] got = new Summary[1];
            Thread pump = new Thread(() -> pump(p, log, label, got), "pump");
            pump.start();
            long limit = (durationMs > 0 ? durationMs / 1000 : 0) + (ops > 0 ? 1800 : 600);
            if (!p.waitFor(limit, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                error = "did not finish in " + limit + " s";
            }
            pump.join();
            rc = p.exitValue();
            s = got[0];
            if (error == null && (s == null || rc > 1)) {
                error = "exited " + rc + (s == null ? " without a result" : "") + " (see " + log + ")";
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            Map<String, Double> after = c.samples();
            CompareCommand.removeTree(dir);
            Map<String, Double> delta = new TreeMap<>();
            for (Map.Entry<String, Double> e : after.entrySet()) {
                double d = e.getValue() - before.getOrDefault(e.getKey(), 0.0);
                if (d != 0) {
                    delta.put(e.getKey(), d);
                }
            }
            Map<String, Long> fired = Control.bugFired(after);
            Control.bugFired(before).forEach((k, v) -> fired.merge(k, -v, Long::sum));
            RunResult r = s == null
                ? new RunResult(w.label, t.mode, 0, 0, ms, 0, 0, 0, -1, fired, delta, applied, Map.of(), rc, error)
                : new RunResult(w.label, t.mode, s.rounds(), s.ops(), s.elapsedMs(),
                    s.elapsedMs() > 0 ? s.ops() * 1000.0 / s.elapsedMs() : 0, s.corruptedMarkers(), s.corruptedBytes(),
                    s.firstCorruptionMs(), fired, delta, applied, s.detail() == null ? Map.of() : s.detail(), rc,
                    error);
            end(label, r);
            return r;
        } finally {
            for (Map.Entry<String, String> e : old.entrySet()) {
                c.set(e.getKey(), e.getValue());
            }
        }
    }

    private void pump(Process p, Path log, String label, Summary[] got) {
        try (var r = p.inputReader(StandardCharsets.UTF_8);
             BufferedWriter out = Files.newBufferedWriter(log)) {
            if (!live) {
                progress.println(label + ": running");
            }
            String line;
            while ((line = r.readLine()) != null) {
                out.write(line);
                out.newLine();
                if (line.startsWith(Summary.PROGRESS) && live) {
                    progress.print("\r" + label + ": " + line.substring(Summary.PROGRESS.length()) + "   ");
                    progress.flush();
                }
                Summary.parse(line).ifPresent(s -> got[0] = s);
            }
        } catch (IOException e) {
            progress.println(label + ": cannot read the workload's output: " + e.getMessage());
        }
    }

    private void end(String label, RunResult r) {
        String text = r.error() != null ? "FAILED: " + r.error()
            : r.ops() + " ops, " + r.corruptedMarkers() + " corrupted markers, " + r.corruptedBytes()
                + " corrupted bytes, bug fired " + r.bugFiredTotal();
        progress.println((live ? "\r" : "") + label + ": " + text + "                ");
    }
}
