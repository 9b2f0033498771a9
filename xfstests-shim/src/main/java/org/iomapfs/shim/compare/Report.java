package org.iomapfs.shim.compare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/** compare's outputs: the text table, results.json, and report.html with its PNG charts. */
final class Report {
    static final String[] HEAD = {"workload", "mode", "ops", "ops/s", "bad markers", "bad bytes", "first bad ms",
        "bug fired", "injections"};
    /** The columns of {@code compare --fstests}'s runs. */
    static final String[] FSTEST_HEAD = {"test", "mode", "result", "check s", "bug fired", "warns", "note"};

    private Report() { }

    static String table(List<RunResult> results) {
        List<String[]> rows = new ArrayList<>();
        String[] head = head(results);
        boolean fstests = head == FSTEST_HEAD;
        rows.add(head);
        for (RunResult r : results) {
            rows.add(cells(r));
        }
        int[] w = new int[head.length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int n = 0; n < rows.size(); n++) {
            String[] row = rows.get(n);
            for (int i = 0; i < row.length; i++) {
                boolean num = n > 0 && (fstests ? i == 3 : i >= 2 && i <= 6);
                String f = "%" + (num ? "" : "-") + w[i] + "s";
                sb.append(String.format(f, row[i])).append(i + 1 < row.length ? "  " : "");
            }
            sb.append('\n');
            if (n == 0) {
                for (int i = 0; i < w.length; i++) {
                    sb.append("-".repeat(w[i])).append(i + 1 < w.length ? "  " : "");
                }
                sb.append('\n');
            }
        }
        return sb.toString().lines().map(String::stripTrailing).collect(Collectors.joining("\n", "", "\n"));
    }

    static boolean isFstest(RunResult r) {
        return FstestsCompare.KIND.equals(r.detail().get("kind"));
    }

    /** The columns: fstests' when every run is an fstest, the workloads' otherwise. */
    static String[] head(List<RunResult> results) {
        return !results.isEmpty() && results.stream().allMatch(Report::isFstest) ? FSTEST_HEAD : HEAD;
    }

    /** One run's row, in the order of {@link #HEAD} (or {@link #FSTEST_HEAD} for an fstest). */
    static String[] cells(RunResult r) {
        if (isFstest(r)) {
            return new String[]{r.workload(), r.mode(), r.error() != null ? "ERROR" : String.valueOf(r.detail().get("result")),
                Long.toString(r.elapsedMs() / 1000), fired(r), warns(r),
                r.error() != null ? r.error() : String.valueOf(r.detail().getOrDefault("note", ""))};
        }
        return r.error() != null
            ? new String[]{r.workload(), r.mode(), "FAILED", r.error(), "", "", "", fired(r), knobs(r)}
            : new String[]{r.workload(), r.mode(), Long.toString(r.ops()), String.format(Locale.ROOT, "%.0f", r.opsPerSec()),
                Long.toString(r.corruptedMarkers()), Long.toString(r.corruptedBytes()),
                r.firstCorruptionMs() < 0 ? "-" : Long.toString(r.firstCorruptionMs()), fired(r), knobs(r)};
    }

    static String fired(RunResult r) {
        String s = r.bugFired().entrySet().stream().filter(e -> e.getValue() != 0)
            .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
        return s.isEmpty() ? "0" : s;
    }

    /** An fstest's WARN counts by site, "0" if none. */
    static String warns(RunResult r) {
        Object w = r.detail().get("warns");
        if (!(w instanceof Map<?, ?> m) || m.isEmpty()) {
            return "0";
        }
        return m.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
    }

    static String knobs(RunResult r) {
        String s = r.injections().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
            .collect(Collectors.joining(","));
        return s.isEmpty() ? "-" : s;
    }

    /** results.json: the settings and every run. */
    static void json(Path file, Map<String, Object> settings, List<RunResult> results) throws IOException {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("finishedAt", Instant.now().toString());
        doc.put("settings", settings);
        doc.put("runs", results);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), doc);
    }

    /**
     * report.html with its PNG charts beside it: corrupted markers and throughput, each a panel per workload on
     * its own axis and unit (Charts), and, where several runs found corruption, the time to the first one of each.
     * A chart that cannot be drawn (no fonts on a bare machine) is left out with a note.
     */
    static void html(Path dir, Map<String, Object> settings, List<RunResult> results) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int workloads = (int) results.stream().map(RunResult::workload).distinct().count();
        List<RunResult> corrupted = Charts.corrupted(results);
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>iomapfs compare</title>\n<style>")
            .append("body{font-family:sans-serif;margin:1.5em;max-width:").append(Charts.WIDTH + 40).append("px}")
            .append("h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.2em 0 .3em}")
            .append("p{margin:.4em 0}img{display:block}.settings{color:#444;font-size:.9em}")
            .append("table{border-collapse:collapse;font-size:.9em}")
            .append("td,th{border:1px solid #999;padding:3px 7px;text-align:right}td:nth-child(-n+2),td.text,th{text-align:left}")
            .append("tr.bad td{background:#fdd}.buggy{color:#c0392b}.fixed{color:#2e86c1}</style></head><body>\n")
            .append("<h1>iomapfs compare: buggy vs fixed</h1>\n<p><b>").append(esc(verdict(results))).append("</b></p>\n")
            .append("<p class=\"settings\">");
        settings.forEach((k, v) -> h.append(esc(k)).append(": <code>").append(esc(String.valueOf(v))).append("</code> "));
        String[] head = head(results);
        boolean fstests = head == FSTEST_HEAD;
        h.append("</p>\n<table>\n<tr>");
        for (String c : head) {
            h.append("<th>").append(esc(c)).append("</th>");
        }
        h.append("</tr>\n");
        for (RunResult r : results) {
            h.append(bad(r) ? "<tr class=\"bad\">" : "<tr>");
            String[] cells = cells(r);
            for (int i = 0; i < cells.length; i++) {
                if (fstests) {
                    h.append(i == 3 ? "<td>" : "<td class=\"text\">").append(esc(cells[i])).append("</td>");
                    continue;
                }
                if (r.error() != null && i == 3) {
                    // the error spans the figures it stands for, rather than widening the ops/s column
                    h.append("<td colspan=\"4\" style=\"text-align:left\">").append(esc(cells[i])).append("</td>");
                    i += 3;
                    continue;
                }
                // bug fired and injections are lists, read from the left
                h.append(i >= 7 ? "<td class=\"text\">" : "<td>").append(esc(cells[i])).append("</td>");
            }
            h.append("</tr>\n");
        }
        if (fstests) {
            h.append("</table>\n<p>Each test ran in its own <code>./check</code> on the mode's TEST/SCRATCH pair; "
                + "bug fired and warns are the counters of the daemons that served it (logged by each daemon at "
                + "exit, or read by run-fstests' hung-task guard before it aborted a hung one). A test that failed "
                + "in buggy mode with no bug fired is marked: its failure is not explained by the switches. "
                + "fstests' output and each daemon's log are under logs/MODE/TEST/, fstests' results under "
                + "results/MODE/; the figures in <a href=\"results.json\">results.json</a>.</p>\n</body></html>\n");
            Files.writeString(dir.resolve("report.html"), h.toString());
            return;
        }
        h.append("</table>\n<p>Bars: <b class=\"buggy\">buggy</b> and <b class=\"fixed\">fixed</b>; each workload "
            + "on its own axis, in its own unit.</p>\n");
        chart(h, dir, "Corrupted markers", "corrupted-markers.png", Charts.height(workloads),
            png -> Charts.perWorkload(png, results, r -> r.corruptedMarkers(), w -> w.markerUnit, "corrupted markers", true));
        chart(h, dir, "Throughput", "throughput.png", Charts.height(workloads),
            png -> Charts.perWorkload(png, results, RunResult::opsPerSec, w -> w.rateUnit, "ops/s", false));
        if (corrupted.size() > 1) {
            // with one, the table's "first bad ms" says all there is
            chart(h, dir, "Time to the first corruption", "first-corruption.png",
                Charts.firstCorruptionHeight(corrupted.size()), png -> Charts.firstCorruption(png, corrupted));
        }
        h.append("<h2>Workloads, and what their columns count</h2>\n<p>");
        results.stream().map(RunResult::workload).distinct().map(Workload::byLabel).flatMap(Optional::stream)
            .forEach(w -> h.append("<b>").append(esc(w.label)).append("</b>: ").append(esc(w.description))
                .append(" (").append(esc(w.units)).append(")<br>\n"));
        h.append("</p>\n<p>Per-run metric increases and the raw figures are in <a href=\"results.json\">results.json</a>; "
            + "each workload's output is under logs/.</p>\n</body></html>\n");
        Files.writeString(dir.resolve("report.html"), h.toString());
    }

    /** Draws one chart into the report's directory. */
    private interface Drawing {
        void draw(Path png) throws IOException;
    }

    /** A section with the chart {@code name}, or a note where it could not be drawn. */
    private static void chart(StringBuilder h, Path dir, String title, String name, int height, Drawing drawing) {
        h.append("<h2>").append(esc(title)).append("</h2>\n");
        try {
            drawing.draw(dir.resolve(name));
            h.append("<img src=\"").append(name).append("\" width=\"").append(Charts.WIDTH).append("\" height=\"")
                .append(height).append("\" alt=\"").append(esc(title)).append("\">\n");
        } catch (IOException | RuntimeException | Error e) {
            h.append("<p><em>").append(esc("chart " + name + " could not be drawn: " + e)).append("</em></p>\n");
        }
    }

    /** One line for the top of the page: did the buggy mode corrupt, did the fixed one. */
    static String verdict(List<RunResult> results) {
        if (head(results) == FSTEST_HEAD) {
            return "Failed in buggy mode: " + failedIn(results, "buggy", true) + ". Failed in fixed mode: "
                + failedIn(results, "fixed", false) + "."
                + (results.stream().anyMatch(r -> r.error() != null) ? " Some tests gave no result." : "");
        }
        long failed = results.stream().filter(r -> r.error() != null).count();
        return "Corruption in buggy mode: " + corruptedIn(results, "buggy") + ". In fixed mode: "
            + corruptedIn(results, "fixed") + "." + (failed > 0 ? " " + failed + " run(s) failed." : "");
    }

    private static boolean bad(RunResult r) {
        return r.error() != null || (isFstest(r) ? "failed".equals(r.detail().get("result")) : r.corrupted());
    }

    private static String failedIn(List<RunResult> results, String mode, boolean attribute) {
        return results.stream().filter(r -> r.mode().equals(mode) && "failed".equals(r.detail().get("result")))
            .map(r -> r.workload() + (!attribute ? "" : r.bugFiredTotal() > 0 ? " (bug fired: " + fired(r) + ")"
                : " (no bug fired: not explained by the switches)"))
            .reduce((a, b) -> a + ", " + b).orElse("none");
    }

    private static String corruptedIn(List<RunResult> results, String mode) {
        return results.stream().filter(r -> r.mode().equals(mode) && r.corrupted()).map(RunResult::workload)
            .distinct().reduce((a, b) -> a + ", " + b).orElse("none");
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
