package org.iomapfs.tests.shim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.iomapfs.shim.ShimMain;
import org.iomapfs.tests.mount.LiveMount;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code iomapfs compare} (its own JVM, mounting a buggy and a fixed image through the CLI) in both directions:
 * the buggy mount loses markers, and its bug-fired counters say which bug did it; the fixed mount loses none.
 * The runs are bounded by operation counts chosen from 30-40 repeated compares each on the 2-core build machine
 * (xfstests-shim/measure-miss-rate; figures in xfstests-shim/README.md, Tests) so that a buggy run shows no
 * corruption far less often than once in a thousand: pwrite-vs-mmap 1024 stores lost 43-86 markers per run
 * (estimated miss 2e-6), partial-block 4 rounds lost the byte in 156 of 160 rounds (4e-7), fsx 1000
 * operations failed 4-13 rounds per run (one per 118 operations: 2e-4). fsx's 1000 keeps this class near two
 * minutes on a loaded 2-core machine; 1500 would miss 3e-6 for ~5-10 s more.
 */
class CompareTest {
    /** Run lengths: see the class comment and xfstests-shim/README.md (Tests) for how often each would miss. */
    static final String PWRITE_OPS = "1024";
    static final String PARTIAL_ROUNDS = "4";
    static final String FSX_OPS = "1000";

    @TempDir
    Path dir;

    @BeforeAll
    static void fuse() {
        LiveMount.assumeFuse("CompareTest");
    }

    /** Runs compare; returns results.json's runs by mode. */
    Map<String, JsonNode> compare(String workload, String ops) throws Exception {
        Path out = dir.resolve("out");
        LiveMount.Proc p = LiveMount.workload(600, ShimMain.class.getName(), "compare", "--workload", workload,
            "--ops", ops, "--out", out.toString());
        assertEquals(0, p.rc(), "compare exits 0 when the fixed mode shows no corruption:\n" + p.out());
        assertChartsShowInTheReport(out);
        JsonNode doc = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        Map<String, JsonNode> byMode = new HashMap<>();
        for (JsonNode r : doc.get("runs")) {
            assertEquals(workload, r.get("workload").asText());
            assertTrue(r.get("error").isNull(), "run failed: " + r);
            byMode.put(r.get("mode").asText(), r);
        }
        assertEquals(2, byMode.size(), "one buggy and one fixed run");
        return byMode;
    }

    /** report.html shows its two charts by paths relative to itself, and each is a PNG that decodes. */
    static void assertChartsShowInTheReport(Path out) throws Exception {
        String html = Files.readString(out.resolve("report.html"));
        Matcher m = Pattern.compile("<img src=\"([^\"]+)\"").matcher(html);
        List<String> srcs = new ArrayList<>();
        while (m.find()) {
            srcs.add(m.group(1));
        }
        assertEquals(List.of("corrupted-markers.png", "throughput.png"), srcs, html);
        for (String src : srcs) {
            assertFalse(src.startsWith("/") || src.contains(":"), "a path relative to report.html: " + src);
            BufferedImage img = ImageIO.read(out.resolve(src).toFile());
            assertNotNull(img, src + " decodes as an image");
            assertTrue(img.getWidth() > 0 && img.getHeight() > 0, src);
        }
    }

    static void assertFixedClean(JsonNode fixed) {
        assertTrue(fixed.get("ops").asLong() > 0);
        assertEquals(0, fixed.get("corruptedMarkers").asLong(), "fixed mode lost markers: " + fixed);
        assertEquals(0, fixed.get("corruptedBytes").asLong(), "fixed mode changed bytes: " + fixed);
        fixed.get("bugFired").fields().forEachRemaining(e ->
            assertEquals(0, e.getValue().asLong(), "fixed mode fired " + e.getKey()));
    }

    @Test
    void pwriteVersusMmapWithShortCopyInsLosesMarkersOnlyWhenBuggy() throws Exception {
        Map<String, JsonNode> r = compare("pwrite-vs-mmap", PWRITE_OPS);
        JsonNode buggy = r.get("buggy");
        assertEquals("0.5", buggy.get("injections").get("copyin_fail").asText());
        assertTrue(buggy.get("corruptedMarkers").asLong() > 0, "buggy mode lost no marker: " + buggy);
        JsonNode fired = buggy.get("bugFired");
        assertTrue(fired.get("mkwrite-uses-write-ops").asLong() + fired.get("punch-truncates-pagecache").asLong() > 0,
            "a failed-write cleanup bug fired: " + fired);
        assertFixedClean(r.get("fixed"));
    }

    @Test
    void partialBlockWriteLosesTheDirtyByteOnlyWhenBuggy() throws Exception {
        Map<String, JsonNode> r = compare("partial-block", PARTIAL_ROUNDS);
        JsonNode buggy = r.get("buggy");
        assertEquals("200", buggy.get("injections").get("write_delay_ms").asText());
        assertTrue(buggy.get("corruptedMarkers").asLong() > 0, "buggy mode kept every dirtied byte: " + buggy);
        assertTrue(buggy.get("bugFired").get("stale-iomap").asLong() > 0, "stale-iomap fired: " + buggy);
        JsonNode fixed = r.get("fixed");
        assertFixedClean(fixed);
        assertTrue(fixed.get("metrics").path("iomapfs_iomap_stale_total").asDouble() > 0,
            "the fixed mode found the cached map stale (xfs/559 checks the xfs_iomap_invalid tracepoint): " + fixed);
    }

    /**
     * fsx (in rounds, the daemon's copy checked every 50 operations) with a fifth of the copy-ins short: the buggy
     * page fault punches the delalloc under the page it dirtied (mkwrite-uses-write-ops), a round fails and keeps
     * its .fsxops for --replay; the fixed mount passes every round.
     */
    @Test
    void fsxFailsRoundsOnlyWhenBuggy() throws Exception {
        Map<String, JsonNode> r = compare("fsx", FSX_OPS);
        JsonNode buggy = r.get("buggy");
        assertEquals("0.2", buggy.get("injections").get("copyin_fail").asText());
        assertTrue(buggy.get("corruptedMarkers").asLong() > 0, "no fsx round failed in buggy mode: " + buggy);
        assertTrue(buggy.get("bugFired").get("mkwrite-uses-write-ops").asLong() > 0, "the bug fired: " + buggy);
        try (var logs = Files.list(dir.resolve("out/logs/fsx.buggy"))) {
            assertTrue(logs.anyMatch(f -> f.toString().endsWith(".fsxops")), "a failing round's replay log is kept");
        }
        JsonNode fixed = r.get("fixed");
        assertFixedClean(fixed);
        assertEquals(Long.parseLong(FSX_OPS), fixed.get("ops").asLong(), "the fixed mount ran every operation");
    }

    @Test
    void demoRunsOnATemporaryMountAndLeavesNothingMounted() throws Exception {
        LiveMount.Proc p = LiveMount.workload(300, ShimMain.class.getName(), "demo", "--duration", "2s");
        assertEquals(0, p.rc(), p.out());
        assertTrue(p.out().lines().anyMatch(l -> l.startsWith("pwrite-vs-mmap  buggy")), p.out());
        assertTrue(p.out().lines().anyMatch(l -> l.startsWith("pwrite-vs-mmap  fixed")), p.out());
        String tmpMount = p.out().lines().filter(l -> l.startsWith("demo: mkfs + mount")).findFirst().orElseThrow()
            .replaceAll(".* under ", "");
        assertFalse(Files.exists(Path.of(tmpMount)), "the demo's temporary directory is removed");
        assertFalse(Files.readString(Path.of("/proc/self/mountinfo")).contains(tmpMount), "the demo's mount is gone");
    }
}
