package org.iomapfs.shim.compare;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.AxisLocation;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.ItemLabelAnchor;
import org.jfree.chart.labels.ItemLabelPosition;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.category.DefaultCategoryDataset;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.Paint;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.ToDoubleFunction;

/**
 * report.html's PNG charts (JFreeChart). A per-workload chart is a grid of small panels, one per workload, each
 * with buggy and fixed bars on an axis and unit of its own: partial-block's 2 racing writes/s stay readable
 * beside fsx's 600 fsx ops/s, and fsx's failing rounds are not counted on the holetest workloads' marker axis.
 */
final class Charts {
    /** Width of every chart; panels per row; the height of a grid of one row, and of each row of a taller one. */
    static final int WIDTH = 900;
    static final int COLUMNS = 3;
    static final int ONE_ROW_HEIGHT = 420;
    static final int ROW_HEIGHT = 300;
    static final Color BUGGY = new Color(0xc0392b);
    static final Color FIXED = new Color(0x2e86c1);

    private Charts() { }

    /** Panels per row for n workloads. */
    static int columns(int n) {
        return Math.max(1, Math.min(n, COLUMNS));
    }

    /** Height of the grid for n workloads. */
    static int height(int n) {
        int rows = (n + columns(n) - 1) / columns(n);
        return rows <= 1 ? ONE_ROW_HEIGHT : rows * ROW_HEIGHT;
    }

    /**
     * One panel per workload (in the order they ran): buggy and fixed bars of {@code value}, on an axis named by
     * {@code unit} of the workload; a failed run has no bar and a subtitle saying so.
     */
    static void perWorkload(Path png, List<RunResult> results, ToDoubleFunction<RunResult> value,
                            Function<Workload, String> unit, String fallbackUnit, boolean counts) throws IOException {
        Map<String, List<RunResult>> byWorkload = new LinkedHashMap<>();
        for (RunResult r : results) {
            byWorkload.computeIfAbsent(r.workload(), k -> new ArrayList<>()).add(r);
        }
        List<JFreeChart> panels = new ArrayList<>();
        byWorkload.forEach((workload, runs) -> panels.add(panel(workload, runs, value,
            Workload.byLabel(workload).map(unit).orElse(fallbackUnit), counts)));
        int n = panels.size();
        int cols = columns(n);
        int h = height(n);
        int rows = (n + cols - 1) / cols;
        BufferedImage img = new BufferedImage(WIDTH, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, h);
            double pw = (double) WIDTH / cols;
            double ph = (double) h / rows;
            for (int i = 0; i < n; i++) {
                panels.get(i).draw(g, new Rectangle2D.Double(i % cols * pw, i / cols * ph, pw, ph));
            }
        } finally {
            g.dispose();
        }
        write(img, png);
    }

    private static JFreeChart panel(String workload, List<RunResult> runs, ToDoubleFunction<RunResult> value,
                                    String unit, boolean counts) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        List<String> failed = new ArrayList<>();
        double max = 0;
        for (RunResult r : runs) {
            if (r.error() != null) {
                failed.add(r.mode());
                continue;
            }
            double v = value.applyAsDouble(r);
            data.addValue(v, workload, r.mode());
            max = Math.max(max, v);
        }
        JFreeChart c = ChartFactory.createBarChart(workload, null, unit, data, PlotOrientation.VERTICAL,
            false, false, false);
        c.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        if (!failed.isEmpty()) {
            c.addSubtitle(new TextTitle(String.join(", ", failed) + ": failed (see the table)"));
        }
        CategoryPlot plot = c.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setOutlineVisible(false);
        NumberAxis range = (NumberAxis) plot.getRangeAxis();
        if (counts) {
            range.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        }
        range.setLowerBound(0);
        // room above the tallest bar for its label; an all-zero panel still shows a 0..1 axis
        range.setUpperBound(max > 0 ? max * 1.15 : 1);
        plot.setRenderer(modeBars(column -> String.valueOf(data.getColumnKey(column))));
        return c;
    }

    /** Bars coloured by the mode of their category, labelled with their value. */
    private static BarRenderer modeBars(IntFunction<String> modeOfColumn) {
        BarRenderer bars = new BarRenderer() {
            @Override
            public Paint getItemPaint(int row, int column) {
                return "fixed".equals(modeOfColumn.apply(column)) ? FIXED : BUGGY;
            }
        };
        bars.setBarPainter(new StandardBarPainter());
        bars.setShadowVisible(false);
        bars.setMaximumBarWidth(0.22);
        bars.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator(
            StandardCategoryItemLabelGenerator.DEFAULT_LABEL_FORMAT_STRING, new DecimalFormat("#,##0.#")));
        bars.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        bars.setDefaultItemLabelsVisible(true);
        return bars;
    }

    /** Runs that found corruption, as the time-to-first-corruption chart shows them. */
    static List<RunResult> corrupted(List<RunResult> results) {
        return results.stream().filter(r -> r.error() == null && r.firstCorruptionMs() >= 0).toList();
    }

    /** Height of the time-to-first-corruption chart for n runs: a bar each. */
    static int firstCorruptionHeight(int n) {
        return 110 + 34 * n;
    }

    /** One horizontal bar per run that found corruption: ms from the run's start to the check that found it. */
    static void firstCorruption(Path png, List<RunResult> corrupted) throws IOException {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (RunResult r : corrupted) {
            data.addValue(r.firstCorruptionMs(), "first corruption", r.workload() + " " + r.mode());
        }
        JFreeChart c = ChartFactory.createBarChart(null, null, "ms from the run's start to the check that found it",
            data, PlotOrientation.HORIZONTAL, false, false, false);
        CategoryPlot plot = c.getCategoryPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.setOutlineVisible(false);
        NumberAxis range = (NumberAxis) plot.getRangeAxis();
        range.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        range.setLowerBound(0);
        range.setUpperBound(Math.max(1, corrupted.stream().mapToLong(RunResult::firstCorruptionMs).max().orElse(0) * 1.12));
        plot.setRangeAxisLocation(AxisLocation.BOTTOM_OR_LEFT);
        BarRenderer bars = modeBars(column -> corrupted.get(column).mode());
        bars.setMaximumBarWidth(1);
        bars.setDefaultPositiveItemLabelPosition(new ItemLabelPosition(ItemLabelAnchor.OUTSIDE3, TextAnchor.CENTER_LEFT));
        plot.setRenderer(bars);
        BufferedImage img = c.createBufferedImage(WIDTH, firstCorruptionHeight(corrupted.size()));
        write(img, png);
    }

    private static void write(BufferedImage img, Path png) throws IOException {
        if (!ImageIO.write(img, "png", png.toFile())) {
            throw new IOException("no PNG writer in this JVM");
        }
    }
}
