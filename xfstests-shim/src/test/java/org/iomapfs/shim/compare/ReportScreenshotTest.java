package org.iomapfs.shim.compare;

import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * report.html as a browser shows it: headless Chromium (Debian's package chromium, which ./run-tests installs)
 * takes a screenshot of a report made from the six workloads' figures of a real {@code compare --workload all};
 * the screenshot and every chart image must be non-blank, and so must every workload's panel of the per-workload
 * charts. The report and the screenshot stay in target/report-screenshot/ to be looked at.
 */
class ReportScreenshotTest {
    static final Path OUT = Path.of("target", "report-screenshot").toAbsolutePath();
    static final int WINDOW_WIDTH = 1000;

    /** `./iomapfs compare --duration 10s --workload all` on the 2-core build machine (README), one failed run. */
    static final List<RunResult> ALL = List.of(
        run("pwrite-vs-mmap", "buggy", 1728, 168, 134, 536, 998, "mkwrite-uses-write-ops", 228),
        run("pwrite-vs-mmap", "fixed", 1952, 195, 0, 0, -1, "mkwrite-uses-write-ops", 0),
        run("mmap-vs-mmap", "buggy", 4544, 452, 2206, 8812, 195, "mkwrite-uses-write-ops", 1168),
        run("mmap-vs-mmap", "fixed", 8352, 835, 0, 0, -1, "mkwrite-uses-write-ops", 0),
        run("holetest", "buggy", 40960, 3799, 0, 0, -1, "mkwrite-uses-write-ops", 0),
        new RunResult("holetest", "fixed", 0, 0, 0, 0, 0, 0, -1, Map.of(), Map.of(), Map.of(), Map.of(), 3,
            "exited 3 without a result (see logs/holetest.fixed.log)"),
        run("partial-block", "buggy", 22, 2.2, 22, 22, 812, "stale-iomap", 22),
        run("partial-block", "fixed", 10, 1.0, 0, 0, -1, "stale-iomap", 0),
        run("fsx", "buggy", 3866, 385, 24, 203715, 388, "mkwrite-uses-write-ops", 374),
        run("fsx", "fixed", 6682, 667, 0, 0, -1, "mkwrite-uses-write-ops", 0),
        run("fsx-direct", "buggy", 3545, 353, 47, 307740, 1489, "mkwrite-uses-write-ops", 372),
        run("fsx-direct", "fixed", 6550, 654, 0, 0, -1, "mkwrite-uses-write-ops", 0));

    static RunResult run(String workload, String mode, long ops, double opsPerSec, long markers, long bytes,
                         long firstMs, String bug, long fired) {
        return new RunResult(workload, mode, 1, ops, 10_000, opsPerSec, markers, bytes, firstMs, Map.of(bug, fired),
            Map.of(), Map.of(), Map.of(), markers > 0 ? 1 : 0, null);
    }

    @Test
    void chromiumRendersTheReportAndEveryChartIsNonBlank() throws Exception {
        CompareCommand.removeTree(OUT);
        Files.createDirectories(OUT);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("workloads", ALL.stream().map(RunResult::workload).distinct().toList());
        settings.put("budget", "10000 ms per run");
        Report.json(OUT.resolve("results.json"), settings, ALL);
        Report.html(OUT, settings, ALL);
        String html = Files.readString(OUT.resolve("report.html"));

        List<String> srcs = imageSources(html);
        assertEquals(List.of("corrupted-markers.png", "throughput.png", "first-corruption.png"), srcs,
            "a chart per measure, and the time to first corruption since several runs found some");
        int pageHeight = 0;
        for (String src : srcs) {
            BufferedImage img = ImageIO.read(OUT.resolve(src).toFile());
            assertNotNull(img, src + " decodes");
            pageHeight += img.getHeight();
            assertNonBlank(src, img, 0, 0, img.getWidth(), img.getHeight());
        }
        // six workloads: two rows of three panels, each with something drawn in it
        for (String src : List.of("corrupted-markers.png", "throughput.png")) {
            BufferedImage img = ImageIO.read(OUT.resolve(src).toFile());
            int cols = Charts.columns(6);
            int pw = img.getWidth() / cols;
            int ph = img.getHeight() / 2;
            for (int i = 0; i < 6; i++) {
                assertNonBlank(src + " panel " + (i + 1), img, i % cols * pw, i / cols * ph, pw, ph);
            }
        }
        // a few hundred pixels of text and table above, between and below the charts
        int windowHeight = pageHeight + 1200;
        Path shot = OUT.resolve("screenshot.png");
        screenshot(OUT.resolve("report.html"), shot, WINDOW_WIDTH, windowHeight);
        BufferedImage page = ImageIO.read(shot.toFile());
        assertNotNull(page, "chromium's screenshot decodes");
        assertEquals(WINDOW_WIDTH, page.getWidth());
        assertNonBlank("the screenshot", page, 0, 0, page.getWidth(), page.getHeight());
        // the charts are on the page, not broken-image boxes: the buggy bars' red shows in the screenshot
        assertTrue(count(page, Charts.BUGGY.getRGB()) > 2000, "the charts' red bars show in the screenshot");
    }

    static List<String> imageSources(String html) {
        Matcher m = Pattern.compile("<img src=\"([^\"]+)\"").matcher(html);
        List<String> srcs = new ArrayList<>();
        while (m.find()) {
            srcs.add(m.group(1));
        }
        return srcs;
    }

    /** Headless Chromium draws {@code page} into {@code png}; fails naming the package when it is missing. */
    static void screenshot(Path page, Path png, int width, int height) throws Exception {
        String chromium = chromium();
        Path profile = Files.createTempDirectory("report-screenshot-profile.");
        try {
            List<String> cmd = List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--no-first-run", "--user-data-dir=" + profile, "--screenshot=" + png,
                "--window-size=" + width + "," + height, page.toUri().toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium did not finish in 120 s");
            assertEquals(0, p.exitValue(), "chromium's exit status: " + new String(out, StandardCharsets.UTF_8));
            assertTrue(Files.size(png) > 0, "chromium wrote no screenshot: " + new String(out, StandardCharsets.UTF_8));
        } finally {
            CompareCommand.removeTree(profile);
        }
    }

    static String chromium() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            Path p = Path.of(dir, "chromium");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return fail("chromium is not installed: this test renders report.html in headless Chromium; "
            + "./run-tests installs it as root (scripts/ensure-deps.sh), or apt-get install chromium");
    }

    /** The region has pixels of more than one colour, and its luminance varies. */
    static void assertNonBlank(String what, BufferedImage img, int x0, int y0, int w, int h) {
        double sum = 0;
        double sq = 0;
        int first = img.getRGB(x0, y0);
        long other = 0;
        for (int y = y0; y < y0 + h; y++) {
            for (int x = x0; x < x0 + w; x++) {
                int rgb = img.getRGB(x, y);
                double l = 0.299 * (rgb >> 16 & 0xff) + 0.587 * (rgb >> 8 & 0xff) + 0.114 * (rgb & 0xff);
                sum += l;
                sq += l * l;
                if (rgb != first) {
                    other++;
                }
            }
        }
        double n = (double) w * h;
        double variance = sq / n - (sum / n) * (sum / n);
        assertTrue(variance > 50 && other > n / 100, what + " is blank: luminance variance " + variance + ", "
            + other + " of " + (long) n + " pixels differ from the corner's");
    }

    static long count(BufferedImage img, int rgb) {
        long n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                if ((img.getRGB(x, y) & 0xffffff) == (rgb & 0xffffff)) {
                    n++;
                }
            }
        }
        return n;
    }
}
