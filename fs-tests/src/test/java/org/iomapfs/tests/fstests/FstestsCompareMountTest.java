package org.iomapfs.tests.fstests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.iomapfs.shim.ShimMain;
import org.iomapfs.tests.mount.LiveMount;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code iomapfs compare --fstests} end to end through xfstests-shim/run-fstests, the mount helper and real
 * mount(8), with a stand-in {@code ./check} (resources fstests/standin-check) instead of an fstests checkout: it
 * mounts as check does, exports {@code $seqnum}, runs one test and unmounts. Checks the per-test attribution: a
 * test that mounts and unmounts SCRATCH inside itself and fires stale-iomap (xfs/559's partial-block write) in
 * buggy mode gets that bug's count, from the daemon's log at exit, and fails only there; a test that fails in
 * buggy mode without any bug firing is marked "not explained by the switches"; a not-run test stays not run;
 * each daemon's log is kept under the test that mounted it; and --inject and --profile reach both mounts'
 * options (the profile as {@code profile=NAME}, which the mount helper hands to {@code iomapfs mount --profile}).
 */
class FstestsCompareMountTest {
    private static final Path SHIM = Path.of("..", "xfstests-shim").toAbsolutePath().normalize();

    @TempDir
    static Path tmp;
    static Path fst;
    static Path cli;

    @BeforeAll
    static void standIn() throws Exception {
        LiveMount.assumeFuse("FstestsCompareMountTest");
        if (!"0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).strip())) {
            System.out.println("FstestsCompareMountTest skipped: mount(8) with a helper needs root");
            Assumptions.abort("not root");
        }
        fst = tmp.resolve("fstests");
        Files.createDirectories(fst.resolve("ltp"));
        try (InputStream in = FstestsCompareMountTest.class.getResourceAsStream("/fstests/standin-check")) {
            Files.copy(in, fst.resolve("check"));
        }
        // run-fstests wants a built checkout; the stand-in's tests run neither
        Files.writeString(fst.resolve("ltp/fsstress"), "#!/bin/sh\nexit 1\n");
        Files.writeString(fst.resolve("ltp/fsx"), "#!/bin/sh\nexit 1\n");
        for (String f : List.of("check", "ltp/fsstress", "ltp/fsx")) {
            assertTrue(fst.resolve(f).toFile().setExecutable(true));
        }
        // the mount helper and run-fstests run the CLI from this test's class path (no build here)
        cli = tmp.resolve("iomapfs-cli");
        Files.writeString(cli, "#!/bin/sh\nexec '" + java() + "' -cp '" + System.getProperty("java.class.path")
            + "' org.iomapfs.fuse.cli.Main \"$@\"\n");
        assertTrue(cli.toFile().setExecutable(true));
    }

    /** run-fstests installed /sbin/mount.fuse.SUBTYPE for this checkout: take it away again. */
    @AfterAll
    static void removeHelperLink() throws IOException {
        if (tmp == null) {
            return;
        }
        try (Stream<Path> links = Files.list(Path.of("/sbin"))) {
            for (Path l : links.filter(p -> p.getFileName().toString().startsWith("mount.fuse.iomapfscmp")).toList()) {
                if (Files.isSymbolicLink(l) && Files.readSymbolicLink(l).startsWith(SHIM)) {
                    Files.deleteIfExists(l);
                }
            }
        }
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    record Proc(int rc, String out) { }

    static Proc compare(Path out, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java(), "-cp", System.getProperty("java.class.path"),
            ShimMain.class.getName(), "compare", "--fstests", fst.toString(), "--out", out.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("IOMAPFS_CLI", cli.toString());
        env.put("IOMAPFS_RUN_FSTESTS", SHIM.resolve("run-fstests").toString());
        env.put("STANDIN_JAVA", java());
        env.put("STANDIN_CP", System.getProperty("java.class.path"));
        env.put("STANDIN_INJECT", "copyin_bytes=7");
        env.put("STANDIN_PROFILE", "punch-delalloc");
        Process p = pb.start();
        byte[] text = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(900, TimeUnit.SECONDS), "compare did not finish");
        String s = new String(text, StandardCharsets.UTF_8);
        System.out.println(s);
        return new Proc(p.exitValue(), s);
    }

    /** results.json's runs by "TEST MODE". */
    static Map<String, JsonNode> runs(Path out) throws IOException {
        Map<String, JsonNode> m = new HashMap<>();
        for (JsonNode r : new ObjectMapper().readTree(out.resolve("results.json").toFile()).get("runs")) {
            m.put(r.get("workload").asText() + " " + r.get("mode").asText(), r);
        }
        return m;
    }

    static long fired(JsonNode run, String bug) {
        JsonNode n = run.get("bugFired").get(bug);
        return n == null ? 0 : n.asLong();
    }

    static long firedTotal(JsonNode run) {
        long t = 0;
        for (JsonNode v : run.get("bugFired")) {
            t += v.asLong();
        }
        return t;
    }

    @Test
    void attributesBugFiringsToTheTestThatRanAndMarksUnexplainedFailures() throws Exception {
        Path out = tmp.resolve("out");
        Proc p = compare(out, "--tests", "stand/001,stand/002,stand/003", "--inject", "copyin_bytes=7");
        assertEquals(0, p.rc, "exit 0: nothing failed in fixed mode\n" + p.out);
        Map<String, JsonNode> runs = runs(out);
        assertEquals(6, runs.size(), runs.keySet().toString());

        JsonNode bugBuggy = runs.get("stand/001 buggy");
        String partialBlock = Files.readString(out.resolve("results/buggy/partial-block.out"));
        assertEquals("failed", bugBuggy.get("detail").get("result").asText(), bugBuggy + "\n" + partialBlock);
        assertTrue(fired(bugBuggy, "stale-iomap") > 0, "stale-iomap fired during stand/001 in buggy mode: " + bugBuggy);
        assertTrue(bugBuggy.get("detail").get("explainedBySwitches").asBoolean());
        assertEquals(0, bugBuggy.get("detail").get("note").asText().indexOf("- output mismatch"), bugBuggy.toString());
        JsonNode bugFixed = runs.get("stand/001 fixed");
        assertEquals("passed", bugFixed.get("detail").get("result").asText(), bugFixed.toString());
        assertEquals(0, firedTotal(bugFixed), bugFixed.toString());

        JsonNode modeBuggy = runs.get("stand/002 buggy");
        assertEquals("failed", modeBuggy.get("detail").get("result").asText(), modeBuggy.toString());
        assertEquals(0, firedTotal(modeBuggy), "the firings of stand/001 are not counted again: " + modeBuggy);
        assertFalse(modeBuggy.get("detail").get("explainedBySwitches").asBoolean());
        assertTrue(modeBuggy.get("detail").get("note").asText().contains("not explained by the switches"), modeBuggy.toString());
        assertEquals("passed", runs.get("stand/002 fixed").get("detail").get("result").asText());
        for (String mode : List.of("buggy", "fixed")) {
            JsonNode n = runs.get("stand/003 " + mode);
            assertEquals("notrun", n.get("detail").get("result").asText(), n.toString());
            assertEquals("this test stands for a _notrun", n.get("detail").get("note").asText());
        }

        assertTrue(p.out.contains("test       mode   result"), "the fstests table:\n" + p.out);
        assertTrue(Files.readString(out.resolve("report.html")).contains("stand/002 (no bug fired: not explained by the switches)"));
        assertEquals("7", Files.readString(out.resolve("results/buggy/inject.value")).strip(), "--inject reached SCRATCH");

        // one log per daemon, under the test that mounted it: TEST_DEV by check itself, SCRATCH by stand/001
        Path logs = out.resolve("logs/buggy/stand/001");
        List<Path> test = list(logs.resolve("check"));
        List<Path> scratch = list(logs.resolve("stand/001"));
        assertEquals(1, test.size(), test.toString());
        assertTrue(test.get(0).getFileName().toString().matches("iomapfscmp[0-9a-f]+_test\\..*\\.log"), test.toString());
        assertEquals(1, scratch.size(), scratch.toString());
        assertTrue(Files.readString(scratch.get(0)).contains("counters at exit: iomapfs_bug_fired"), "the scratch "
            + "daemon logged its firings when stand/001 unmounted it");
    }

    @Test
    void profileAndInjectionsReachBothMounts() throws Exception {
        Path out = tmp.resolve("out-profile");
        Proc p = compare(out, "--tests", "stand/004", "--profile", "punch-delalloc", "--inject", "copyin_bytes=7");
        assertEquals(0, p.rc, p.out);
        Map<String, JsonNode> runs = runs(out);
        for (String mode : List.of("buggy", "fixed")) {
            JsonNode r = runs.get("stand/004 " + mode);
            assertEquals("passed", r.get("detail").get("result").asText(), "the stand-in found profile=punch-delalloc and "
                + "inject=copyin_bytes=7 in both mount option strings: " + r);
            assertEquals("punch-delalloc", r.get("injections").get("profile").asText());
            String opts = Files.readString(out.resolve("results").resolve(mode).resolve("options"));
            assertTrue(opts.contains("mode=" + mode + ",inject=copyin_bytes=7,profile=punch-delalloc"), opts);
        }
    }

    @Test
    void aHungDaemonIsAbortedSoTheTestFailsAndTheRunGoesOn() throws Exception {
        Path out = tmp.resolve("out-hung");
        Proc p = compare(out, "--tests", "stand/005", "--hung-timeout", "5");
        assertEquals(1, p.rc, "the aborted test failed, in fixed mode too: exit 1\n" + p.out);
        Map<String, JsonNode> runs = runs(out);
        for (String mode : List.of("buggy", "fixed")) {
            JsonNode r = runs.get("stand/005 " + mode);
            assertEquals("failed", r.get("detail").get("result").asText(), r.toString());
            assertTrue(r.get("detail").get("note").asText().contains("1 daemon(s) hung and were aborted"), r.toString());
            String read = Files.readString(out.resolve("results").resolve(mode).resolve("blocked-read.out"));
            assertTrue(read.contains("dd exit 1"), "the stuck read failed when the guard aborted the connection, "
                + "instead of waiting for its 600 s timeout (exit 124):\n" + read);
            Path logs = out.resolve("logs").resolve(mode).resolve("stand/005");
            assertTrue(Files.readString(logs.resolve("check.out")).contains("aborting its connection so that the test fails"));
            try (Stream<Path> s = Files.list(logs.resolve("check"))) {
                List<Path> atHang = s.filter(f -> f.toString().endsWith(".at-hang")).toList();
                assertEquals(1, atHang.size(), "the guard kept the hung daemon's counters beside its log");
                assertTrue(Files.readString(atHang.get(0)).startsWith("counters at hang:"));
            }
        }
    }

    @Test
    void refusesABadTestNameAndAMissingList() throws Exception {
        Proc bad = compare(tmp.resolve("bad"), "--tests", "generic/34x");
        assertEquals(2, bad.rc, bad.out);
        assertTrue(bad.out.contains("bad test name 'generic/34x'"), bad.out);
        Proc none = compare(tmp.resolve("none"));
        assertEquals(2, none.rc, none.out);
        assertTrue(none.out.contains("--fstests needs --tests LIST or --group G"), none.out);
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().endsWith(".log")).sorted().toList();
        }
    }
}
