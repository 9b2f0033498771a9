package org.iomapfs.shim.compare;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code iomapfs compare --fstests DIR}: fstests' own tests against a buggy and a fixed pair of TEST/SCRATCH mounts,
 * through {@code run-fstests} (mount helper, hung-task guard, one daemon log per test).
 *
 * <p>Attribution: each test runs in its own {@code ./check}, which mounts TEST_DEV at its start and unmounts both
 * devices at its end (check: {@code _test_unmount}, {@code _scratch_unmount} in {@code _wrapup}'s path), so every
 * daemon that served the test starts and ends inside that one run and its counters count that test only. A
 * daemon is gone by then, and fstests unmounts SCRATCH inside tests too, so the counters are not read from a live
 * control directory but from each daemon's log: the daemon logs its {@code /.iomapfs/metrics} bug-fired and WARN
 * samples when it exits ({@code counters at exit:}); for a daemon that hung, run-fstests' guard read them from the
 * control directory before aborting the connection ({@code LOG.at-hang}). A daemon with neither (killed) makes the
 * counts of that test a lower bound, said in its note.
 */
final class FstestsCompare {
    /** Prefix of the mount type compare has run-fstests use (fuse.SUBTYPE), apart from a user's plain run-fstests. */
    static final String SUBTYPE = "iomapfscmp";
    static final String KIND = "fstest";
    static final String NOT_EXPLAINED = "failed in buggy mode with no bug fired: not explained by the switches";
    private static final Pattern COUNTERS = Pattern.compile("counters at (exit|hang):(.*)$");
    private static final Pattern BUG = Pattern.compile("^iomapfs_bug_fired[a-z_]*\\{.*bug=\"([^\"]*)\".*}$");
    private static final Pattern WARN = Pattern.compile("^iomapfs_warn[a-z_]*\\{.*site=\"([^\"]*)\".*}$");

    private final Path fstests;
    private final Path runFstests;
    private final Map<String, String> injections;
    private final String profile;
    private final List<String> extraOptions;
    private final Path out;
    private final long testTimeoutSeconds;
    private final long hungTimeoutSeconds;
    private final PrintStream progress;

    FstestsCompare(Path fstests, Path runFstests, Map<String, String> injections, String profile,
                   List<String> extraOptions, Path out, long testTimeoutSeconds, long hungTimeoutSeconds,
                   PrintStream progress) {
        this.fstests = fstests;
        this.runFstests = runFstests;
        this.injections = injections;
        this.profile = profile;
        this.extraOptions = extraOptions;
        this.out = out;
        this.testTimeoutSeconds = testTimeoutSeconds;
        this.hungTimeoutSeconds = hungTimeoutSeconds;
        this.progress = progress;
    }

    /** run-fstests of the checkout this class comes from (xfstests-shim/target/... → xfstests-shim/run-fstests). */
    static Path locateRunFstests() throws IOException {
        String env = System.getenv("IOMAPFS_RUN_FSTESTS");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        try {
            Path p = Path.of(FstestsCompare.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (; p != null; p = p.getParent()) {
                if (Files.isExecutable(p.resolve("run-fstests"))) {
                    return p.resolve("run-fstests");
                }
            }
        } catch (URISyntaxException | SecurityException e) {
            // fall through to the message
        }
        throw new IOException("cannot find xfstests-shim/run-fstests beside this build; set IOMAPFS_RUN_FSTESTS");
    }

    /** The tests of {@code group} from the built checkout's tests/DIR/group.list files (made by fstests' make). */
    static List<String> group(Path fstests, String group) throws IOException {
        List<String> tests = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(fstests.resolve("tests"))) {
            for (Path d : dirs.sorted().toList()) {
                Path list = d.resolve("group.list");
                if (!Files.isRegularFile(list)) {
                    continue;
                }
                for (String line : Files.readAllLines(list)) {
                    String[] w = line.strip().split("\\s+");
                    if (w.length > 1 && !w[0].startsWith("#") && List.of(w).subList(1, w.length).contains(group)) {
                        tests.add(d.getFileName() + "/" + w[0]);
                    }
                }
            }
        }
        if (tests.isEmpty()) {
            throw new IOException("no test of group '" + group + "' in " + fstests + "/tests/*/group.list (is it built?)");
        }
        return tests;
    }

    /**
     * fuse.SUBTYPE for this checkout's run-fstests: the helper link /sbin/mount.fuse.SUBTYPE and the device names
     * SUBTYPE_test, SUBTYPE_scratch, so that two checkouts comparing at once neither share a helper nor a device.
     */
    String subtype() {
        return SUBTYPE + Integer.toHexString(runFstests.toAbsolutePath().normalize().toString().hashCode());
    }

    /** The mount options for one mode, as run-fstests passes them on to both mounts. */
    String options(String mode) {
        List<String> o = new ArrayList<>(List.of("mode=" + mode));
        injections.forEach((k, v) -> o.add("inject=" + k + "=" + v));
        if (profile != null) {
            o.add("profile=" + profile);
        }
        o.addAll(extraOptions);
        return String.join(",", o);
    }

    /** Called with the results so far after each test and mode (compare rewrites results.json and the report). */
    interface Progress {
        void update(List<RunResult> soFar) throws IOException;
    }

    List<RunResult> run(List<String> tests, Progress after) throws IOException, InterruptedException {
        List<RunResult> results = new ArrayList<>();
        int n = tests.size() * 2;
        int i = 0;
        for (String mode : List.of("buggy", "fixed")) {
            // fresh images per mode; within a mode TEST keeps its contents from test to test, as in fstests
            CompareCommand.removeTree(out.resolve("work").resolve(mode));
        }
        for (String test : tests) {
            for (String mode : List.of("buggy", "fixed")) {
                results.add(runOne(test, mode, "[" + (++i) + "/" + n + "]"));
                after.update(List.copyOf(results));
            }
        }
        return results;
    }

    RunResult runOne(String test, String mode, String step) throws IOException, InterruptedException {
        Path work = out.resolve("work").resolve(mode);
        Path logs = out.resolve("logs").resolve(mode).resolve(test);
        CompareCommand.removeTree(logs);
        Files.createDirectories(logs);
        Path checkOut = logs.resolve("check.out");
        ProcessBuilder pb = new ProcessBuilder(runFstests.toString(), fstests.toString(), test)
            .redirectErrorStream(true).redirectOutput(checkOut.toFile());
        Map<String, String> env = pb.environment();
        env.put("IOMAPFS_FSTESTS_WORK", work.toString());
        env.put("IOMAPFS_FSTESTS_LOGS", logs.toString());
        env.put("IOMAPFS_FSTESTS_OPTS", options(mode));
        env.put("IOMAPFS_FSTESTS_SUBTYPE", subtype());
        env.put("IOMAPFS_FSTESTS_CONFIG", work.resolve("local.config").toString());
        env.put("IOMAPFS_FSTESTS_HUNG_TIMEOUT", Long.toString(hungTimeoutSeconds));
        env.put("RESULT_BASE", out.resolve("results").resolve(mode).toString());
        progress.println(step + " " + test + " " + mode + ": running (log: " + logs + ")");
        long start = System.nanoTime();
        Process p = pb.start();
        String error = null;
        if (!p.waitFor(testTimeoutSeconds, TimeUnit.SECONDS)) {
            // SIGTERM to check and the test first: run-fstests' EXIT trap then unmounts both devices (bash runs
            // it only once its foreground ./check has ended), so the next test finds them free
            p.descendants().forEach(ProcessHandle::destroy);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
            }
            error = "check did not finish in " + testTimeoutSeconds + " s";
        }
        long wallMs = (System.nanoTime() - start) / 1_000_000;
        String text = Files.readString(checkOut, StandardCharsets.UTF_8);
        Outcome o = outcome(test, text);
        Counters c = settledCounters(logs, DAEMON_EXIT_WAIT_MS);
        if (error == null && o.result == null) {
            error = "check gave no result for " + test + " (exit " + p.exitValue() + ", see " + checkOut + ")";
        }
        // the whole ./check run (its mounts included): check prints a test's own time only when it passed
        long seconds = wallMs / 1000;
        List<String> notes = new ArrayList<>();
        if (o.reason != null) {
            notes.add(o.reason);
        }
        long fired = c.bugFired.values().stream().mapToLong(Long::longValue).sum();
        boolean failed = "failed".equals(o.result);
        if (failed && mode.equals("buggy") && fired == 0) {
            notes.add(NOT_EXPLAINED);
        }
        if (c.hung > 0) {
            notes.add(c.hung + " daemon(s) hung and were aborted");
        }
        if (c.missing > 0) {
            notes.add(c.missing + " daemon(s) left no counters: the counts are a lower bound");
        }
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("kind", KIND);
        detail.put("result", o.result == null ? "error" : o.result);
        detail.put("testSeconds", o.seconds);
        detail.put("wallSeconds", wallMs / 1000);
        detail.put("warns", c.warns);
        detail.put("explainedBySwitches", !failed || fired > 0);
        detail.put("daemons", c.daemons);
        detail.put("note", String.join("; ", notes));
        detail.put("logs", logs.toString());
        detail.put("mountOptions", options(mode));
        Map<String, Double> metrics = new TreeMap<>();
        c.bugFired.forEach((k, v) -> metrics.put("iomapfs_bug_fired_total{bug=\"" + k + "\"}", v.doubleValue()));
        c.warns.forEach((k, v) -> metrics.put("iomapfs_warn_total{site=\"" + k + "\"}", v.doubleValue()));
        Map<String, String> applied = new LinkedHashMap<>(injections);
        if (profile != null) {
            applied.put("profile", profile);
        }
        RunResult r = new RunResult(test, mode, 0, 0, seconds * 1000, 0, 0, 0, -1, c.bugFired, metrics, applied,
            detail, p.exitValue(), error);
        progress.println(step + " " + test + " " + mode + ": " + (error != null ? "FAILED: " + error
            : o.result + " in " + seconds + " s, bug fired " + Report.fired(r) + ", warns " + Report.warns(r)
                + (notes.isEmpty() ? "" : " (" + String.join("; ", notes) + ")")));
        return r;
    }

    /** What check said about {@code test}: passed, failed or notrun, its seconds (-1 unknown), and why. */
    record Outcome(String result, long seconds, String reason) { }

    static Outcome outcome(String test, String checkOutput) {
        String result = null;
        String reason = null;
        long seconds = -1;
        boolean ran = false;
        Pattern line = Pattern.compile("^" + Pattern.quote(test) + "\\s+(.*)$");
        Pattern secs = Pattern.compile("(\\d+)s\\s*$");
        for (String l : checkOutput.split("\n")) {
            Matcher m = line.matcher(l);
            if (m.find()) {
                String rest = m.group(1);
                int nr = rest.indexOf("[not run]");
                if (nr >= 0) {
                    reason = rest.substring(nr + "[not run]".length()).strip();
                } else if (rest.contains("[failed") || rest.contains("- output mismatch") || rest.contains("[expunged]")) {
                    reason = rest.replaceAll("^[\\d\\s]*s? *(\\.\\.\\.)? *", "").strip();
                } else {
                    Matcher s = secs.matcher(rest);
                    if (s.find()) {
                        seconds = Long.parseLong(s.group(1));
                    }
                }
            }
            if (l.startsWith("Ran:") && List.of(l.substring(4).strip().split("\\s+")).contains(test)) {
                ran = true;
            } else if (l.startsWith("Not run:") && List.of(l.substring(8).strip().split("\\s+")).contains(test)) {
                result = "notrun";
            } else if (l.startsWith("Failures:") && List.of(l.substring(9).strip().split("\\s+")).contains(test)) {
                result = "failed";
            }
        }
        if (result == null && ran) {
            result = "passed";
        }
        return new Outcome(result, seconds, reason);
    }

    /** The bug-fired and WARN counters of every daemon whose log is under {@code logs}. */
    static final class Counters {
        final Map<String, Long> bugFired = new TreeMap<>();
        final Map<String, Long> warns = new TreeMap<>();
        int daemons;
        int hung;
        int missing;
    }

    /** How long a daemon may take to close its engine after its last unmount (fstests' plain umount returns first). */
    static final long DAEMON_EXIT_WAIT_MS = 60_000;

    /**
     * {@link #counters} once every daemon of the test has logged its counters, or after {@code waitMs}: check's
     * last umount returns as soon as the kernel lets the mount go, while the daemon is still closing its engine
     * and has not yet written the line. The poll reads another process's log; it forces no interleaving.
     */
    static Counters settledCounters(Path logs, long waitMs) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + waitMs * 1_000_000;
        Counters c = counters(logs);
        while (c.missing > 0 && System.nanoTime() < deadline) {
            Thread.sleep(200);
            c = counters(logs);
        }
        return c;
    }

    static Counters counters(Path logs) throws IOException {
        Counters c = new Counters();
        List<Path> logFiles;
        try (Stream<Path> s = Files.walk(logs)) {
            logFiles = s.filter(f -> f.getFileName().toString().endsWith(".log") && Files.isRegularFile(f)).sorted().toList();
        }
        for (Path log : logFiles) {
            c.daemons++;
            String line = lastCounters(log);
            Path atHang = log.resolveSibling(log.getFileName().toString().replaceFirst("\\.log$", ".at-hang"));
            if (Files.exists(atHang)) {
                c.hung++;
                if (line == null) {
                    line = lastCounters(atHang);
                }
            }
            if (line == null) {
                c.missing++;
                continue;
            }
            for (String sample : line.strip().split("\\s+")) {
                int eq = sample.lastIndexOf('=');
                if (eq <= 0) {
                    continue;
                }
                long v = (long) Double.parseDouble(sample.substring(eq + 1));
                String name = sample.substring(0, eq);
                Matcher b = BUG.matcher(name);
                Matcher w = WARN.matcher(name);
                if (b.find()) {
                    c.bugFired.merge(b.group(1), v, Long::sum);
                } else if (w.find()) {
                    c.warns.merge(w.group(1), v, Long::sum);
                }
            }
        }
        return c;
    }

    /** The samples of the last "counters at exit|hang:" line of a file, or null. */
    private static String lastCounters(Path f) throws IOException {
        String found = null;
        for (String l : Files.readAllLines(f, StandardCharsets.ISO_8859_1)) {
            Matcher m = COUNTERS.matcher(l);
            if (m.find()) {
                found = m.group(2);
            }
        }
        return found;
    }
}
