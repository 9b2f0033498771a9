package org.iomapfs.shim.compare;

import org.iomapfs.shim.io.Budget;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code iomapfs compare}: the same workloads against a buggy and a fixed mount of fresh images, side by side.
 * Exit 0: fixed mode showed no corruption; 1: it did; 2: bad arguments; 3: a mount or a workload failed.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
    description = {"Mount a buggy and a fixed iomapfs (fresh images in a temporary directory), run each workload "
        + "against both, and report operations, corrupted markers and bytes (checked through the daemon), time to "
        + "the first corruption, the bug-fired counters and throughput: a table here, results.json and "
        + "report.html (with PNG charts) in --out.",
        "Exit 0: the fixed mode showed no corruption; 1: it did; 2: bad arguments; 3: a mount or a workload failed."},
    footer = {"", "Workloads (default: pwrite-vs-mmap, partial-block and fsx; --workload all",
        "runs every one), with their injections:",
        "  pwrite-vs-mmap  generic/346 (holetest -w) looped on fresh sparse files,",
        "                  syncfs during the race;",
        "                  copyin_fail=0.5 copyin_bytes=0 write_delay_ms=2",
        "  mmap-vs-mmap    generic/344-345 (holetest) looped the same way;",
        "                  copyin_fail=0.5 copyin_bytes=0",
        "  holetest        holetest -f -w FILE 16 as generic/346 runs it; none",
        "  partial-block   xfs/559: a slow write ending 1 byte into a page that is",
        "                  written back and evicted meanwhile; write_delay_ms=200",
        "  fsx             fsx (ltp/fsx.c) in rounds of 1000 ops on fresh files, mapped",
        "                  reads and writes included, the whole file checked through",
        "                  the daemon every 50 ops; copyin_fail=0.2 copyin_bytes=0",
        "  fsx-direct      the same with fsx -Z (O_DIRECT reads and writes); same",
        "--inject values replace a workload's own, for every workload.",
        "What the columns count: an op is a marker store for the holetest workloads, a",
        "racing write for partial-block, an fsx operation for fsx. A bad marker is a",
        "marker lost (holetest), a round that lost its dirtied byte (partial-block), a",
        "failing fsx round (fsx stops at its first mismatch: at most one per round);",
        "bad bytes for fsx are those the failing reads found wrong.",
        "",
        "fstests instead of the workloads (root; a built fstests checkout):",
        "  compare --fstests DIR --tests generic/344,generic/346 [--profile NAME]",
        "  one ./check per test and mode; passed / failed / not run, seconds, bug-fired",
        "  and WARN counts of that test's daemons; a buggy-mode failure with no bug",
        "  fired is marked: not explained by the switches."})
public final class CompareCommand implements Callable<Integer> {
    @Option(names = "--workload", paramLabel = "W", description = "workload to run (repeatable; all: every one)")
    List<String> workloads = new ArrayList<>();
    @Option(names = "--inject", paramLabel = "KNOB=VALUE", description = "fault-injection knob for every run (repeatable)")
    Map<String, String> injections = new LinkedHashMap<>();
    @Option(names = "--duration", paramLabel = "D", converter = Budget.DurationConverter.class,
        description = "how long each workload runs in each mode (default: 10s unless --ops)")
    Long durationMs;
    @Option(names = "--ops", paramLabel = "N", description = "run each workload for N operations in each mode instead")
    Long ops;
    @Option(names = "--out", paramLabel = "DIR", description = "where results.json, report.html and logs go "
        + "(default: ./iomapfs-compare-DATE-TIME)")
    Path out;
    @Option(names = "--image-size", defaultValue = "1G", description = "size of each fresh image (default: ${DEFAULT-VALUE})")
    String imageSize;
    @Option(names = "--cache-mb", paramLabel = "N", description = "the daemons' page-cache budget in MiB (mount --cache-mb)")
    Long cacheMb;
    @Option(names = "--profile", paramLabel = "NAME", description = "injection profile for the mounts (mount --profile, "
        + "the mount helper's profile=NAME)")
    String profile;
    @Option(names = "--fstests", paramLabel = "FSTESTS_DIR", description = "run these fstests (a built checkout) "
        + "instead of the workloads, each in its own ./check through xfstests-shim/run-fstests, on a buggy and on a "
        + "fixed TEST/SCRATCH pair; per test and mode: passed / failed / not run, time, and the bug-fired and WARN "
        + "counts of the daemons that served it")
    Path fstests;
    @Option(names = "--tests", paramLabel = "LIST", split = ",", description = "with --fstests: the tests, e.g. "
        + "generic/344,generic/346")
    List<String> tests = new ArrayList<>();
    @Option(names = "--group", paramLabel = "G", description = "with --fstests: every test of group G (tests/*/group.list)")
    String group;
    @Option(names = "--test-timeout", paramLabel = "SECONDS", defaultValue = "3600",
        description = "with --fstests: stop a test's ./check after this long (default: ${DEFAULT-VALUE})")
    long testTimeout;
    @Option(names = "--hung-timeout", paramLabel = "SECONDS", defaultValue = "60",
        description = "with --fstests: a request stuck this long makes the daemon hung, and run-fstests aborts its "
            + "connection so the test fails and the run goes on (default: ${DEFAULT-VALUE})")
    long hungTimeout;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (fstests != null) {
            return callFstests();
        }
        if (!tests.isEmpty() || group != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tests and --group need --fstests DIR");
        }
        List<Workload> ws = parseWorkloads(spec, workloads,
            List.of(Workload.PWRITE_VS_MMAP, Workload.PARTIAL_BLOCK, Workload.FSX));
        if (durationMs != null && ops != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give --duration or --ops, not both");
        }
        if (ops != null && ops <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--ops must be positive");
        }
        long d = ops == null ? (durationMs == null ? 10_000 : durationMs) : 0;
        if (ops == null && d <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--duration must be positive");
        }
        Path outDir = (out != null ? out
            : Path.of("iomapfs-compare-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))))
            .toAbsolutePath();
        Files.createDirectories(outDir.resolve("logs"));
        List<String> mountOptions = new ArrayList<>();
        if (cacheMb != null) {
            mountOptions.addAll(List.of("--cache-mb", cacheMb.toString()));
        }
        if (profile != null) {
            mountOptions.addAll(List.of("--profile", profile));
        }
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("workloads", ws.stream().map(w -> w.label).toList());
        if (profile != null) {
            settings.put("profile", profile);
        }
        settings.put("budget", ops != null ? ops + " ops per run" : d + " ms per run");
        settings.put("userInjections", injections);
        settings.put("imageSize", imageSize);
        settings.put("kernel", System.getProperty("os.version"));
        PrintStream err = System.err;
        Cli cli = Cli.locate();
        Path tmp = Files.createTempDirectory("iomapfs-compare.");
        List<RunResult> results = new ArrayList<>();
        err.println("compare: mounting a buggy and a fixed image under " + tmp);
        try (Target buggy = Target.start(cli, tmp, "buggy", "buggy", imageSize, mountOptions);
             Target fixed = Target.start(cli, tmp, "fixed", "fixed", imageSize, mountOptions);
             Unmounter hook = new Unmounter(buggy, fixed)) {
            checkInjections(spec, buggy, injections);
            Runner runner = new Runner(injections, ops == null ? 0 : ops, d, outDir.resolve("logs"), err);
            results.addAll(runAll(runner, ws, List.of(buggy, fixed)));
        } finally {
            removeTree(tmp);
        }
        System.out.print(Report.table(results));
        Report.json(outDir.resolve("results.json"), settings, results);
        Report.html(outDir, settings, results);
        System.out.println("report: " + outDir.resolve("report.html") + "  (results.json beside it)");
        return exitCode(results);
    }

    /** {@code --fstests}: fstests' tests on a buggy and a fixed pair of mounts, one ./check per test. */
    private int callFstests() throws Exception {
        CommandLine cl = spec.commandLine();
        if (!workloads.isEmpty() || durationMs != null || ops != null) {
            throw new CommandLine.ParameterException(cl, "--fstests runs fstests' tests: no --workload, --duration or --ops");
        }
        if (tests.isEmpty() == (group == null)) {
            throw new CommandLine.ParameterException(cl, "--fstests needs --tests LIST or --group G (one of them)");
        }
        Path fst = fstests.toAbsolutePath().normalize();
        if (!Files.isExecutable(fst.resolve("check"))) {
            throw new CommandLine.ParameterException(cl, fst + " has no ./check: not an fstests checkout");
        }
        for (String t : tests) {
            if (!t.matches("[A-Za-z0-9_-]+/[0-9]+")) {
                throw new CommandLine.ParameterException(cl, "bad test name '" + t + "' (like generic/344)");
            }
        }
        if (testTimeout <= 0 || hungTimeout <= 0) {
            throw new CommandLine.ParameterException(cl, "--test-timeout and --hung-timeout must be positive");
        }
        for (Map.Entry<String, String> k : injections.entrySet()) {
            if (!(k.getKey() + "=" + k.getValue()).matches("[A-Za-z0-9_.=-]+")) {
                throw new CommandLine.ParameterException(cl, "bad --inject " + k.getKey() + "=" + k.getValue());
            }
        }
        if (profile != null && !profile.matches("[A-Za-z0-9_-]+")) {
            throw new CommandLine.ParameterException(cl, "bad --profile name '" + profile + "'");
        }
        List<String> list = group != null ? FstestsCompare.group(fst, group) : tests;
        Path outDir = (out != null ? out
            : Path.of("iomapfs-compare-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))))
            .toAbsolutePath();
        Files.createDirectories(outDir.resolve("logs"));
        if (!injections.isEmpty()) {
            probeInjections(cl);
        }
        List<String> extra = cacheMb == null ? List.of() : List.of("cache_mb=" + cacheMb);
        FstestsCompare fc = new FstestsCompare(fst, FstestsCompare.locateRunFstests(), injections, profile, extra,
            outDir, testTimeout, hungTimeout, System.err);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("fstests", fst.toString());
        settings.put("tests", list);
        settings.put("userInjections", injections);
        if (profile != null) {
            settings.put("profile", profile);
        }
        settings.put("mountOptions", Map.of("buggy", fc.options("buggy"), "fixed", fc.options("fixed")));
        settings.put("kernel", System.getProperty("os.version"));
        System.err.println("compare: " + list.size() + " fstests, buggy then fixed for each, one ./check per test; "
            + "work, logs and fstests results under " + outDir);
        // results.json and report.html after every test: a long run stopped half-way keeps what it measured
        List<RunResult> results = fc.run(list, soFar -> {
            Report.json(outDir.resolve("results.json"), settings, soFar);
            Report.html(outDir, settings, soFar);
        });
        System.out.print(Report.table(results));
        System.out.println("report: " + outDir.resolve("report.html") + "  (results.json beside it)");
        if (results.stream().anyMatch(r -> r.error() != null)) {
            System.err.println("compare: a test's ./check gave no result (see the table and its log)");
            return 3;
        }
        if (results.stream().anyMatch(r -> r.mode().equals("fixed") && "failed".equals(r.detail().get("result")))) {
            System.err.println("compare: a test FAILED in fixed mode");
            return 1;
        }
        return 0;
    }

    /** Refuses --inject values the mount does not know or accept, on a small probe mount, before any test. */
    private void probeInjections(CommandLine cl) throws IOException, InterruptedException {
        Path tmp = Files.createTempDirectory("iomapfs-compare.");
        try (Target probe = Target.start(Cli.locate(), tmp, "probe", "fixed", "64M", List.of())) {
            checkInjections(spec, probe, injections);
        } finally {
            removeTree(tmp);
        }
    }

    static List<RunResult> runAll(Runner runner, List<Workload> ws, List<Target> targets) throws IOException, InterruptedException {
        List<RunResult> results = new ArrayList<>();
        int n = ws.size() * targets.size();
        int i = 0;
        for (Workload w : ws) {
            for (Target t : targets) {
                results.add(runner.run(w, t, "[" + (++i) + "/" + n + "]"));
            }
        }
        return results;
    }

    /** 3 if a run failed, else 1 if the fixed mode showed corruption, else 0. */
    static int exitCode(List<RunResult> results) {
        if (results.stream().anyMatch(r -> r.error() != null)) {
            System.err.println("compare: a workload failed (see the table and its log)");
            return 3;
        }
        if (results.stream().anyMatch(r -> r.mode().equals("fixed") && r.corrupted())) {
            System.err.println("compare: the FIXED mode showed corruption");
            return 1;
        }
        return 0;
    }

    /**
     * Refuses --inject values the mount does not know or accepts (set, then put back), before any run rather
     * than after the first workload.
     */
    static void checkInjections(CommandLine.Model.CommandSpec spec, Target t, Map<String, String> injections)
        throws IOException {
        for (Map.Entry<String, String> k : injections.entrySet()) {
            String key = "inject/" + k.getKey();
            if (!t.control.has(key)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "unknown --inject knob '" + k.getKey() + "'");
            }
            String old = t.control.get(key);
            try {
                t.control.set(key, k.getValue());
            } catch (IOException e) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                    "bad --inject value " + k.getKey() + "=" + k.getValue() + " (the mount refused it)");
            }
            t.control.set(key, old);
        }
    }

    static List<Workload> parseWorkloads(CommandLine.Model.CommandSpec spec, List<String> names, List<Workload> dflt) {
        if (names.isEmpty()) {
            return dflt;
        }
        List<Workload> ws = new ArrayList<>();
        for (String s : names) {
            if (s.equals("all")) {
                ws.addAll(List.of(Workload.values()));
                continue;
            }
            try {
                ws.add(Workload.parse(s));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
        }
        return ws.stream().distinct().toList();
    }

    static void removeTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Unmounts the targets if the JVM is stopped (Ctrl-C) while they are mounted. */
    static final class Unmounter implements AutoCloseable {
        private final Thread hook;

        Unmounter(Target... targets) {
            hook = new Thread(() -> {
                for (Target t : targets) {
                    try {
                        t.close();
                    } catch (Exception ignored) {
                        // best effort while the JVM stops
                    }
                }
            }, "unmount");
            Runtime.getRuntime().addShutdownHook(hook);
        }

        @Override
        public void close() {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook runs
            }
        }
    }
}
