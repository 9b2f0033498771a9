package org.iomapfs.shim.compare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.data.category.DefaultCategoryDataset;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** compare's outputs: the text table, results.json, and report.html with its PNG charts. */
final class Report {
    static final String[] HEAD = {"workload", "mode", "ops", "ops/s", "bad markers", "bad bytes", "first bad ms",
        "bug fired", "injections"};

    private Report() { }

    static String table(List<RunResult> results) {
        List<String[]> rows = new ArrayList<>();
        rows.add(HEAD);
        for (RunResult r : results) {
            rows.add(r.error() != null
                ? new String[]{r.workload(), r.mode(), "FAILED", r.error(), "", "", "", fired(r), knobs(r)}
                : new String[]{r.workload(), r.mode(), Long.toString(r.ops()), String.format(Locale.ROOT, "%.0f", r.opsPerSec()),
                    Long.toString(r.corruptedMarkers()), Long.toString(r.corruptedBytes()),
                    r.firstCorruptionMs() < 0 ? "-" : Long.toString(r.firstCorruptionMs()), fired(r), knobs(r)});
        }
        int[] w = new int[HEAD.length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int n = 0; n < rows.size(); n++) {
            String[] row = rows.get(n);
            for (int i = 0; i < row.length; i++) {
                boolean num = n > 0 && i >= 2 && i <= 6;
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

    static String fired(RunResult r) {
        String s = r.bugFired().entrySet().stream().filter(e -> e.getValue() != 0)
            .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
        return s.isEmpty() ? "0" : s;
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
     * report.html with two PNG charts beside it (corrupted markers and throughput, buggy vs fixed per
     * workload). A chart that cannot be drawn (no fonts on a bare machine) is left out with a note.
     */
    static void html(Path dir, Map<String, Object> settings, List<RunResult> results) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<String> charts = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        chart(dir, "corrupted-markers.png", "Corrupted markers (for fsx: failing rounds)", "markers",
            results, r -> (double) r.corruptedMarkers(), charts, notes);
        chart(dir, "throughput.png", "Throughput", "operations per second", results, RunResult::opsPerSec, charts, notes);
        StringBuilder h = new StringBuilder();
        h.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>iomapfs compare</title>\n<style>")
            .append("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}")
            .append("td,th{border:1px solid #999;padding:4px 8px;text-align:right}td:nth-child(-n+2),th{text-align:left}")
            .append("tr.bad td{background:#fdd}</style></head><body>\n<h1>iomapfs compare: buggy vs fixed</h1>\n<p>");
        settings.forEach((k, v) -> h.append(esc(k)).append(": <code>").append(esc(String.valueOf(v))).append("</code><br>\n"));
        h.append("</p>\n<table>\n<tr>");
        for (String c : HEAD) {
            h.append("<th>").append(esc(c)).append("</th>");
        }
        h.append("</tr>\n");
        for (RunResult r : results) {
            h.append(r.corrupted() || r.error() != null ? "<tr class=\"bad\">" : "<tr>");
            String[] cells = r.error() != null
                ? new String[]{r.workload(), r.mode(), "failed: " + r.error(), "", "", "", "", fired(r), knobs(r)}
                : new String[]{r.workload(), r.mode(), Long.toString(r.ops()), String.format(Locale.ROOT, "%.0f", r.opsPerSec()),
                    Long.toString(r.corruptedMarkers()), Long.toString(r.corruptedBytes()),
                    r.firstCorruptionMs() < 0 ? "-" : Long.toString(r.firstCorruptionMs()), fired(r), knobs(r)};
            for (String c : cells) {
                h.append("<td>").append(esc(c)).append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</table>\n");
        for (String c : charts) {
            h.append("<p><img src=\"").append(c).append("\" alt=\"").append(c).append("\"></p>\n");
        }
        for (String n : notes) {
            h.append("<p><em>").append(esc(n)).append("</em></p>\n");
        }
        h.append("<p>Workloads, and what their columns count: ");
        for (Workload w : Workload.values()) {
            h.append("<br><b>").append(esc(w.label)).append("</b>: ").append(esc(w.description)).append(" (")
                .append(esc(w.units)).append(")");
        }
        h.append("</p>\n<p>Per-run metric increases and the raw figures are in <a href=\"results.json\">results.json</a>; "
            + "each workload's output is under logs/.</p>\n</body></html>\n");
        Files.writeString(dir.resolve("report.html"), h.toString());
    }

    private static void chart(Path dir, String name, String title, String axis, List<RunResult> results,
                              java.util.function.ToDoubleFunction<RunResult> value, List<String> charts, List<String> notes) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (RunResult r : results) {
            if (r.error() == null) {
                data.addValue(value.applyAsDouble(r), r.mode(), r.workload());
            }
        }
        try {
            JFreeChart c = ChartFactory.createBarChart(title, "workload", axis, data, PlotOrientation.VERTICAL,
                true, false, false);
            CategoryPlot plot = c.getCategoryPlot();
            plot.setBackgroundPaint(Color.WHITE);
            plot.setRangeGridlinePaint(Color.GRAY);
            NumberAxis range = (NumberAxis) plot.getRangeAxis();
            range.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
            range.setLowerBound(0);
            double max = results.stream().filter(r -> r.error() == null).mapToDouble(value).max().orElse(0);
            range.setUpperBound(Math.max(1, max * 1.1));
            BarRenderer bars = (BarRenderer) plot.getRenderer();
            bars.setBarPainter(new StandardBarPainter());
            bars.setSeriesPaint(0, new Color(0xc0392b));
            bars.setSeriesPaint(1, new Color(0x2e86c1));
            bars.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator(
                StandardCategoryItemLabelGenerator.DEFAULT_LABEL_FORMAT_STRING, new java.text.DecimalFormat("#,##0.#")));
            bars.setDefaultItemLabelsVisible(true);
            ChartUtils.saveChartAsPNG(dir.resolve(name).toFile(), c, 900, 420);
            charts.add(name);
        } catch (IOException | RuntimeException | Error e) {
            notes.add("chart " + name + " could not be drawn: " + e);
        }
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
