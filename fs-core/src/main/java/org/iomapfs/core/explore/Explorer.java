package org.iomapfs.core.explore;

import org.iomapfs.core.sched.Run;
import org.iomapfs.core.sched.Strategy;
import org.iomapfs.core.bugs.Bug;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Searches a scenario's schedules with one strategy until a failure, the budget or the time is used up, and
 * shrinks a failing schedule: first to the fewest preemptions (a depth-first search with bound 0, 1, ...
 * below the failure's own), then by dropping departures from the default one by one, then to the fewest
 * operations (each operation of each thread dropped in turn, keeping the drop if some schedule within the same
 * preemption bound still fails the same way).
 */
public final class Explorer {
    /** What a search is asked to do. */
    public record Options(String strategy, int preemptions, int pctDepth, long budget, long timeMs, long seed,
                          boolean stopAtFirst) { }

    /** What a search did. */
    public record Report(String strategy, long schedules, long distinctEnds, long failures, long firstFailureAt,
                         double seconds, boolean exhausted, Execution.Result firstFailure, String schedule) {
        public double perSecond() { return seconds > 0 ? schedules / seconds : 0; }
    }

    /** A shrunk failure: the scenario it fails in, the schedule, and the run. */
    public record Shrunk(Scenario scenario, String schedule, Execution.Result result) { }

    private final Execution exec;
    private final Map<Bug, Boolean> bugs;
    private Consumer<String> progress = s -> { };

    public Explorer(Path workDir, Map<Bug, Boolean> bugs) {
        this.exec = new Execution(workDir);
        this.bugs = bugs;
    }

    public Explorer onProgress(Consumer<String> p) {
        this.progress = p;
        return this;
    }

    /** Switch settings: {@code mode} for every bug, overridden by {@code NAME=buggy|fixed} entries. */
    public static Map<Bug, Boolean> switches(String mode, List<String> overrides) {
        Map<Bug, Boolean> m = new LinkedHashMap<>();
        for (Bug b : Bug.values()) {
            m.put(b, mode.equals("buggy"));
        }
        for (String o : overrides) {
            String[] kv = o.split("=", 2);
            if (kv.length != 2 || !(kv[1].equals("buggy") || kv[1].equals("fixed"))) {
                throw new IllegalArgumentException("bad --bug " + o + " (want NAME=buggy|fixed)");
            }
            Bug b = Bug.byId(kv[0]);
            if (b == null) {
                throw new IllegalArgumentException("unknown bug " + kv[0] + " (one of " + java.util.Arrays.stream(Bug.values())
                        .map(x -> x.id).collect(java.util.stream.Collectors.joining(", ")) + ")");
            }
            m.put(b, kv[1].equals("buggy"));
        }
        return m;
    }

    public Execution.Result replay(Scenario sc, String schedule) throws InterruptedException {
        return exec.run(sc, bugs, new Schedules.Forced(schedule));
    }

    public Report explore(Scenario sc, Options o) throws InterruptedException {
        long t0 = System.nanoTime();
        long deadline = o.timeMs() > 0 ? t0 + o.timeMs() * 1_000_000 : Long.MAX_VALUE;
        Set<Long> ends = new HashSet<>();
        long n = 0;
        long failures = 0;
        long firstAt = -1;
        Execution.Result first = null;
        boolean exhausted = false;
        Schedules.Dfs dfs = o.strategy().equals("dfs") ? new Schedules.Dfs(o.preemptions()) : null;
        Schedules.Pct pct = null;
        if (o.strategy().equals("pct")) {
            Execution.Result probe = exec.run(sc, bugs, (d, c, e) -> Strategy.byDefault(c, e));
            pct = new Schedules.Pct(o.seed(), o.pctDepth(), probe.decisions().size());
        }
        Schedules.RandomWalk walk = o.strategy().equals("random") ? new Schedules.RandomWalk(o.seed()) : null;
        if (dfs == null && pct == null && walk == null) {
            throw new IllegalArgumentException("unknown strategy " + o.strategy() + " (dfs, pct or random)");
        }
        long lastPrint = System.nanoTime();
        while (n < o.budget() && System.nanoTime() < deadline) {
            Strategy s = dfs != null ? dfs : pct != null ? pct : walk;
            Execution.Result r = exec.run(sc, bugs, s);
            n++;
            if (pct != null) {
                pct.observed(r.decisions().size());
            }
            ends.add(r.failed() ? r.kind().hashCode() : r.fileHash());
            if (r.failed()) {
                failures++;
                if (first == null) {
                    first = r;
                    firstAt = n;
                }
            }
            if (System.nanoTime() - lastPrint > 1_000_000_000L) {
                lastPrint = System.nanoTime();
                double sec = (lastPrint - t0) / 1e9;
                progress.accept(String.format("%s: %d schedules, %d distinct end states, %d failures, %.0f schedules/s",
                        o.strategy(), n, ends.size(), failures, n / sec));
            }
            if (first != null && o.stopAtFirst()) {
                break;
            }
            if (dfs != null && !dfs.next()) {
                exhausted = true;
                break;
            }
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        return new Report(o.strategy(), n, ends.size(), failures, firstAt, sec, exhausted, first,
                first == null ? null : Schedules.encode(first.decisions()));
    }

    /** Reduces a failure (of {@code kind}) to the fewest preemptions, departures and operations. */
    public Shrunk shrink(Scenario sc, Execution.Result failing, long budgetPerStep) throws InterruptedException {
        String kind = failing.kind();
        String schedule = Schedules.encode(failing.decisions());
        Execution.Result best = failing;
        // 1. fewest preemptions: the first failing schedule of a DFS with a smaller bound
        for (int k = 0; k < best.preemptions(); k++) {
            Execution.Result r = firstFailure(sc, k, kind, budgetPerStep);
            if (r != null) {
                best = r;
                schedule = Schedules.encode(r.decisions());
                break;
            }
        }
        // 2. fewest departures from the default
        best = dropDepartures(sc, schedule, best, kind);
        schedule = Schedules.encode(best.decisions());
        // 3. fewest operations
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int t = 0; t < sc.threads().size() && !changed; t++) {
                for (int i = 0; i < sc.threads().get(t).size() && !changed; i++) {
                    if (sc.opCount() <= 2) {
                        break;
                    }
                    Scenario smaller = sc.without(t, i);
                    Execution.Result r = firstFailure(smaller, best.preemptions(), kind, budgetPerStep);
                    if (r != null) {
                        sc = smaller;
                        best = dropDepartures(sc, Schedules.encode(r.decisions()), r, kind);
                        schedule = Schedules.encode(best.decisions());
                        changed = true;
                    }
                }
            }
        }
        return new Shrunk(sc, schedule, best);
    }

    private Execution.Result dropDepartures(Scenario sc, String schedule, Execution.Result best, String kind)
            throws InterruptedException {
        Map<Integer, Integer> picks = Schedules.decode(schedule);
        boolean changed = true;
        while (changed) {
            changed = false;
            for (Integer k : new ArrayList<>(picks.keySet())) {
                Map<Integer, Integer> fewer = new LinkedHashMap<>(picks);
                fewer.remove(k);
                Execution.Result r = exec.run(sc, bugs, new Schedules.Forced(fewer));
                if (r.failed() && r.kind().equals(kind) && r.preemptions() <= best.preemptions()) {
                    picks = Schedules.decode(Schedules.encode(r.decisions()));
                    best = r;
                    changed = true;
                    break;
                }
            }
        }
        return best;
    }

    private Execution.Result firstFailure(Scenario sc, int bound, String kind, long budget) throws InterruptedException {
        Schedules.Dfs dfs = new Schedules.Dfs(bound);
        for (long n = 0; n < budget; n++) {
            Execution.Result r = exec.run(sc, bugs, dfs);
            if (r.failed() && r.kind().equals(kind)) {
                return r;
            }
            if (!dfs.next()) {
                return null;
            }
        }
        return null;
    }

    /** The run as numbered steps: each stretch one thread ran, in the words of docs/bugs.md, then the verdict. */
    public static List<String> steps(Execution.Result r) {
        List<String> out = new ArrayList<>();
        int cur = -1;
        List<String> seg = new ArrayList<>();
        for (Run.Event e : r.events()) {
            if (!e.shown()) {
                continue;
            }
            if (e.thread() != cur && !seg.isEmpty()) {
                out.add(r.threadNames().get(cur) + ": " + String.join("; ", collapse(seg)));
                seg.clear();
            }
            cur = e.thread();
            seg.add(e.what());
        }
        if (!seg.isEmpty()) {
            out.add(r.threadNames().get(cur) + ": " + String.join("; ", collapse(seg)));
        }
        for (String b : r.bugLines().split("\n")) {
            if (!b.isBlank()) {
                out.add("trace: " + b.trim().replaceAll("\\s+", " "));
            }
        }
        out.add(r.failed() ? "FAILS (" + r.kind() + "): " + r.failure() + (r.fired().isEmpty() ? "" : "; bug fired " + r.fired())
                : "passes");
        List<String> numbered = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            numbered.add((i + 1) + ". " + out.get(i));
        }
        return numbered;
    }

    /** "write locks folio 0 ...", "write locks folio 1 ..." -> "write locks folio 0..1 ...". */
    private static List<String> collapse(List<String> events) {
        List<String> out = new ArrayList<>();
        java.util.regex.Pattern num = java.util.regex.Pattern.compile("\\d+");
        int i = 0;
        while (i < events.size()) {
            java.util.regex.Matcher m = num.matcher(events.get(i));
            if (!m.find()) {
                out.add(events.get(i++));
                continue;
            }
            String template = events.get(i).substring(0, m.start()) + "#" + events.get(i).substring(m.end());
            String firstNum = m.group();
            String lastNum = firstNum;
            int j = i + 1;
            while (j < events.size()) {
                java.util.regex.Matcher n = num.matcher(events.get(j));
                if (!n.find() || !(events.get(j).substring(0, n.start()) + "#" + events.get(j).substring(n.end())).equals(template)) {
                    break;
                }
                lastNum = n.group();
                j++;
            }
            out.add(j - i == 1 ? events.get(i) : template.replace("#", firstNum + ".." + lastNum));
            i = j;
        }
        return out;
    }
}
