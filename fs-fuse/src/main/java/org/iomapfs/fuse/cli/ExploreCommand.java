package org.iomapfs.fuse.cli;

import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.explore.Execution;
import org.iomapfs.core.explore.Explorer;
import org.iomapfs.core.explore.SavedSchedule;
import org.iomapfs.core.explore.Scenario;
import org.iomapfs.core.sched.Sched;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code iomapfs explore}: runs a scenario's threads under the controlled scheduler, searching its schedules
 * with one strategy, and shrinks and saves the first failure. docs/explore.md describes it.
 */
@Command(name = "explore", mixinStandardHelpOptions = true,
    description = {"Search the thread schedules of a scenario (a file, or a bundled name such as stale-iomap) for one",
        "that breaks the invariant; shrink it to the fewest preemptions and operations, print it as steps and save",
        "it for --replay. Exit 1 when a failure is found with no bug switched to buggy, 2 on bad input."})
public final class ExploreCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "SCENARIO", description = "scenario file or bundled name")
    String scenario;

    @Option(names = "--mode", defaultValue = "buggy", description = "buggy or fixed: every bug switch (default ${DEFAULT-VALUE})")
    String mode;

    @Option(names = "--bug", paramLabel = "NAME=buggy|fixed", description = "one bug switch, after --mode")
    List<String> bugs = new ArrayList<>();

    @Option(names = "--strategy", defaultValue = "dfs", description = "dfs (preemption-bounded, exhaustive), pct or random")
    String strategy;

    @Option(names = "--preemptions", defaultValue = "2", description = "dfs: at most this many preemptions")
    int preemptions;

    @Option(names = "--depth", defaultValue = "3", description = "pct: bug depth d (d-1 priority change points)")
    int depth;

    @Option(names = "--budget", defaultValue = "100000", description = "at most this many schedules")
    long budget;

    @Option(names = "--time", description = "at most this long (30s, 5m, 1h)")
    String time;

    @Option(names = "--seed", defaultValue = "1", description = "seed of pct and random")
    long seed;

    @Option(names = "--out", defaultValue = "explore-out", description = "where explore.json and the saved schedule go")
    Path out;

    @Option(names = "--replay", paramLabel = "FILE", description = "run exactly the schedule saved in FILE")
    Path replay;

    @Option(names = "--all", description = "go on after the first failure (count failures; no shrinking)")
    boolean all;

    @Override
    public Integer call() throws Exception {
        PrintStream o = System.out;
        // The switch points are compiled in only in a JVM that has the property before the engine loads.
        System.setProperty(Sched.PROPERTY, "true");
        if (!Sched.ON) {
            System.err.println("iomapfs explore: the engine was loaded before the explorer could switch it on");
            return 1;
        }
        try {
            Files.createDirectories(out);
            Path work = Files.createTempDirectory(Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : out, "iomapfs-explore");
            if (replay != null) {
                return replay(o, work);
            }
            if (scenario == null) {
                return bad("missing SCENARIO (a .scn file or one of the bundled names, e.g. stale-iomap)");
            }
            Scenario sc = loadScenario(scenario);
            Map<Bug, Boolean> sw = Explorer.switches(mode, bugs);
            boolean fixed = !sw.containsValue(true);
            long timeMs = time == null ? 0 : parseDuration(time);
            Explorer ex = new Explorer(work, sw).onProgress(p -> System.err.print("\r" + p + "   "));
            o.printf("explore %s: %s mode%s, strategy %s%s%n", sc.name(), fixed ? "fixed" : "buggy",
                    bugs.isEmpty() ? "" : " " + bugs, strategy,
                    strategy.equals("dfs") ? " (at most " + preemptions + " preemptions)" : strategy.equals("pct") ? " (depth " + depth + ", seed " + seed + ")" : " (seed " + seed + ")");
            Explorer.Report r = ex.explore(sc, new Explorer.Options(strategy, preemptions, depth, budget, timeMs, seed, !all));
            System.err.println();
            o.printf("%-10s %10s %14s %9s %14s %12s %s%n", "strategy", "schedules", "distinct ends", "failures",
                    "first failure", "schedules/s", "coverage");
            o.printf("%-10s %10d %14d %9d %14s %12.1f %s%n", r.strategy(), r.schedules(), r.distinctEnds(), r.failures(),
                    r.firstFailureAt() < 0 ? "-" : String.valueOf(r.firstFailureAt()), r.perSecond(),
                    r.exhausted() ? "all schedules with at most " + preemptions + " preemptions" : "budget or time used up");
            String shrunkSchedule = null;
            int shrunkSteps = 0;
            Path saved = null;
            if (r.firstFailure() != null) {
                o.println("first failure: " + r.firstFailure().failure());
                Explorer.Shrunk s = all ? new Explorer.Shrunk(sc, r.schedule(), r.firstFailure())
                        : ex.shrink(sc, r.firstFailure(), 2000);
                List<String> steps = Explorer.steps(s.result());
                shrunkSchedule = s.schedule();
                shrunkSteps = steps.size();
                o.printf("shrunk: %d preemptions, %d operations, schedule \"%s\"%n", s.result().preemptions(),
                        s.scenario().opCount(), s.schedule());
                steps.forEach(o::println);
                saved = out.resolve(sc.name() + ".schedule");
                new SavedSchedule(sw, s.schedule(), s.result().failure(), s.scenario()).save(saved, steps);
                o.println("saved: " + saved + " (iomapfs explore --replay " + saved + ")");
            }
            writeJson(out.resolve("explore.json"), sc, fixed, r, shrunkSchedule, shrunkSteps, saved);
            return fixed && r.failures() > 0 ? 1 : 0;
        } catch (IllegalArgumentException e) {
            return bad(e.getMessage());
        }
    }

    private int replay(PrintStream o, Path work) throws IOException, InterruptedException {
        if (!Files.isRegularFile(replay)) {
            return bad(replay + ": no such file");
        }
        SavedSchedule s = SavedSchedule.load(replay);
        Explorer ex = new Explorer(work, s.bugs());
        Execution.Result r = ex.replay(s.scenario(), s.schedule());
        Explorer.steps(r).forEach(o::println);
        boolean same = s.expect() != null && (r.failed() ? r.failure().replace('\n', ' ').equals(s.expect()) : s.expect().equals("pass"));
        o.println(same ? "replayed: the same outcome as saved" : "replayed: a different outcome from the saved one (" + s.expect() + ")");
        return r.failed() ? 1 : 0;
    }

    private static Scenario loadScenario(String name) throws IOException {
        Path p = Path.of(name);
        if (Files.isRegularFile(p)) {
            return Scenario.load(p);
        }
        Scenario sc = Scenario.bundled(name.replaceFirst("\\.scn$", ""));
        if (sc == null) {
            throw new IllegalArgumentException("no scenario file or bundled scenario named " + name);
        }
        return sc;
    }

    static long parseDuration(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        try {
            if (t.endsWith("ms")) {
                return Long.parseLong(t.substring(0, t.length() - 2));
            }
            long mult = switch (t.charAt(t.length() - 1)) {
                case 's' -> 1000;
                case 'm' -> 60_000;
                case 'h' -> 3_600_000;
                default -> 0;
            };
            return mult == 0 ? Long.parseLong(t) * 1000 : Long.parseLong(t.substring(0, t.length() - 1)) * mult;
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new IllegalArgumentException("bad duration '" + s + "' (examples: 30s, 5m, 1h)");
        }
    }

    private static int bad(String msg) {
        System.err.println("iomapfs explore: " + msg);
        return 2;
    }

    private void writeJson(Path file, Scenario sc, boolean fixed, Explorer.Report r, String shrunk, int steps, Path saved)
            throws IOException {
        String json = "{\n"
                + "  \"scenario\": " + q(sc.name()) + ",\n"
                + "  \"mode\": " + q(fixed ? "fixed" : "buggy") + ",\n"
                + "  \"bugs\": " + q(String.join(",", bugs)) + ",\n"
                + "  \"strategy\": " + q(r.strategy()) + ",\n"
                + "  \"preemptionBound\": " + preemptions + ",\n"
                + "  \"pctDepth\": " + depth + ",\n"
                + "  \"seed\": " + seed + ",\n"
                + "  \"schedules\": " + r.schedules() + ",\n"
                + "  \"distinctEndStates\": " + r.distinctEnds() + ",\n"
                + "  \"failures\": " + r.failures() + ",\n"
                + "  \"firstFailureAt\": " + r.firstFailureAt() + ",\n"
                + "  \"exhausted\": " + r.exhausted() + ",\n"
                + "  \"seconds\": " + String.format(Locale.ROOT, "%.3f", r.seconds()) + ",\n"
                + "  \"schedulesPerSecond\": " + String.format(Locale.ROOT, "%.1f", r.perSecond()) + ",\n"
                + "  \"firstFailure\": " + (r.firstFailure() == null ? "null" : q(r.firstFailure().failure())) + ",\n"
                + "  \"schedule\": " + (r.schedule() == null ? "null" : q(r.schedule())) + ",\n"
                + "  \"shrunkSchedule\": " + (shrunk == null ? "null" : q(shrunk)) + ",\n"
                + "  \"shrunkSteps\": " + steps + ",\n"
                + "  \"saved\": " + (saved == null ? "null" : q(saved.toString())) + "\n"
                + "}\n";
        Files.writeString(file, json, StandardCharsets.UTF_8);
    }

    private static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> sb.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
        }
        return sb.append('"').toString();
    }
}
