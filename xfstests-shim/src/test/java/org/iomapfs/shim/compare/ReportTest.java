package org.iomapfs.shim.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

class ReportTest {
    @TempDir
    Path dir;

    static final List<RunResult> RESULTS = List.of(
        new RunResult("pwrite-vs-mmap", "buggy", 32, 1024, 5000, 204.8, 62, 248, 880,
            Map.of("mkwrite-uses-write-ops", 106L, "stale-iomap", 0L), Map.of(), Map.of("copyin_fail", "0.5"),
            Map.of("variant", "-w"), 1, null),
        new RunResult("pwrite-vs-mmap", "fixed", 32, 1024, 4000, 256, 0, 0, -1,
            Map.of("mkwrite-uses-write-ops", 0L), Map.of(), Map.of("copyin_fail", "0.5"), Map.of(), 0, null));

    @Test
    void tableHasARowPerRunWithItsFigures() {
        List<String> lines = Report.table(RESULTS).lines().toList();
        assertEquals(4, lines.size());
        assertTrue(lines.get(0).startsWith("workload"));
        assertTrue(lines.get(2).matches("pwrite-vs-mmap +buggy +1024 +205 +62 +248 +880 +mkwrite-uses-write-ops=106 +copyin_fail=0.5"),
            lines.get(2));
        assertTrue(lines.get(3).matches("pwrite-vs-mmap +fixed +1024 +256 +0 +0 +- +0 +copyin_fail=0.5"), lines.get(3));
    }

    @Test
    void jsonAndHtmlWithCharts() throws Exception {
        Report.json(dir.resolve("results.json"), Map.of("budget", "1024 ops per run"), RESULTS);
        JsonNode doc = new ObjectMapper().readTree(dir.resolve("results.json").toFile());
        assertEquals(62, doc.get("runs").get(0).get("corruptedMarkers").asLong());
        assertEquals(106, doc.get("runs").get(0).get("bugFired").get("mkwrite-uses-write-ops").asLong());
        assertEquals("-w", doc.get("runs").get(0).get("detail").get("variant").asText(), "the workload's own record");
        Report.html(dir, Map.of("budget", "1024 ops per run"), RESULTS);
        String html = Files.readString(dir.resolve("report.html"));
        assertTrue(html.contains("<img src=\"corrupted-markers.png\""), html);
        assertTrue(html.contains("<tr class=\"bad\"><td>pwrite-vs-mmap</td><td>buggy</td>"), html);
        byte[] png = Files.readAllBytes(dir.resolve("corrupted-markers.png"));
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
        assertChartsResolve(dir, html);
    }

    /** Every image the page shows is a path relative to the page that names a PNG there which decodes. */
    static void assertChartsResolve(Path dir, String html) throws Exception {
        Matcher m = Pattern.compile("<img src=\"([^\"]+)\"").matcher(html);
        List<String> srcs = new ArrayList<>();
        while (m.find()) {
            srcs.add(m.group(1));
        }
        assertEquals(List.of("corrupted-markers.png", "throughput.png"), srcs);
        for (String src : srcs) {
            Path png = dir.resolve(src);
            assertFalse(Path.of(src).isAbsolute() || src.contains("/"), "relative to report.html: " + src);
            BufferedImage img = ImageIO.read(png.toFile());
            assertNotNull(img, src + " is a readable image");
            assertEquals(900, img.getWidth());
            assertEquals(420, img.getHeight());
        }
    }

    @Test
    void exitCodeIsOneOnlyWhenTheFixedModeCorrupted() {
        assertEquals(0, CompareCommand.exitCode(RESULTS));
        RunResult badFixed = new RunResult("x", "fixed", 1, 1, 1, 1, 1, 8, 5, Map.of(), Map.of(), Map.of(), Map.of(), 1, null);
        assertEquals(1, CompareCommand.exitCode(List.of(RESULTS.get(0), badFixed)));
    }
}
