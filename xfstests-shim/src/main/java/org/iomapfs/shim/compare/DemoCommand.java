package org.iomapfs.shim.compare;

import org.iomapfs.shim.io.Budget;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code iomapfs demo}: one default image in a temporary directory, mounted; a short generic/346-style race
 * (pwrite-vs-mmap with short copy-ins) in buggy mode, then in fixed mode (switched through the mode control);
 * the table; unmount and clean up.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
    description = {"A short buggy-vs-fixed comparison on a temporary mount: generic/346's race of pwrite(2) "
        + "and MAP_SHARED stores into the same pages, with a fraction of buffered copy-ins coming up short, "
        + "checked through the daemon. Prints the table; leaves nothing behind.",
        "Exit 0: the fixed mode showed no corruption; 1: it did; 3: a mount or a workload failed."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--duration", defaultValue = "5s", converter = Budget.DurationConverter.class, paramLabel = "D",
        description = "how long the race runs in each mode (default: 5s)")
    long durationMs;
    @Option(names = "--workload", paramLabel = "W", description = "workload(s) instead of pwrite-vs-mmap (see compare --help)")
    List<String> workloads = new ArrayList<>();
    @Option(names = "--out", paramLabel = "DIR", description = "also write results.json and report.html there")
    Path out;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (durationMs <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--duration must be positive");
        }
        List<Workload> ws = CompareCommand.parseWorkloads(spec, workloads, List.of(Workload.PWRITE_VS_MMAP));
        Cli cli = Cli.locate();
        Path tmp = Files.createTempDirectory("iomapfs-demo.");
        Path logs = out != null ? out.toAbsolutePath().resolve("logs") : tmp.resolve("logs");
        Files.createDirectories(logs);
        List<RunResult> results;
        System.err.println("demo: mkfs + mount of a 1 GiB image under " + tmp);
        try {
            try (Target mount = Target.start(cli, tmp, "demo", "fixed", "1G", List.of());
                 CompareCommand.Unmounter hook = new CompareCommand.Unmounter(mount)) {
                for (Workload w : ws) {
                    System.err.println("demo: " + w.label + ": " + w.description + "; injections " + w.injections);
                }
                Runner runner = new Runner(Map.of(), 0, durationMs, logs, System.err);
                results = CompareCommand.runAll(runner, ws, List.of(mount.inMode("buggy"), mount.inMode("fixed")));
                mount.select(); // back to fixed before the unmount
            }
            System.out.print(Report.table(results));
            for (Workload w : ws) {
                System.out.println("Columns for " + w.label + ": " + w.units + ".");
            }
            System.out.println("bug fired: how often a buggy branch did its harm (MNT/.iomapfs/metrics). More: "
                + "./iomapfs compare --help, docs/bugs.md.");
            if (out != null) {
                Map<String, Object> settings = new LinkedHashMap<>();
                settings.put("workloads", ws.stream().map(w -> w.label).toList());
                settings.put("budget", durationMs + " ms per run");
                settings.put("kernel", System.getProperty("os.version"));
                Report.json(out.toAbsolutePath().resolve("results.json"), settings, results);
                Report.html(out.toAbsolutePath(), settings, results);
                System.out.println("report: " + out.toAbsolutePath().resolve("report.html"));
            }
        } finally {
            CompareCommand.removeTree(tmp);
        }
        return CompareCommand.exitCode(results);
    }
}
