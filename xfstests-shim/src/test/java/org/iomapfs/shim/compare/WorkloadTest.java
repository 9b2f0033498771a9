package org.iomapfs.shim.compare;

import org.iomapfs.shim.io.Summary;
import org.iomapfs.shim.sys.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command lines compare builds for its workloads, and the --workload list. */
class WorkloadTest {
    @TempDir
    Path tmp;

    /** Runs a workload's command in this JVM (a local file, no mount); returns its RESULT line. */
    static Summary runHere(List<String> command) throws Exception {
        Class<?> main = Class.forName(command.get(0));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream out = System.out;
        int rc;
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            rc = Cli.run(main.getSimpleName(), main.getConstructor().newInstance(),
                command.subList(1, command.size()).toArray(String[]::new));
        } finally {
            System.setOut(out);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, text);
        return text.lines().map(Summary::parse).flatMap(java.util.Optional::stream).reduce((a, b) -> b).orElseThrow();
    }

    @Test
    void theFsxWorkloadsRunFsxInRoundsUpToTheOperationBudget() throws Exception {
        for (Workload w : List.of(Workload.FSX, Workload.FSX_DIRECT)) {
            Summary s = runHere(w.command(tmp.resolve(w.label), tmp.resolve("logs"), 1500, 0));
            assertEquals("fsx", s.workload());
            assertEquals(1500, s.ops(), w.label);
            assertEquals(2, s.rounds(), w.label + ": rounds of 1000 operations");
            assertEquals("--check-every 50 --daemon-read odirect -q" + (w == Workload.FSX_DIRECT ? " -Z" : ""),
                s.detail().get("fsxOptions"));
        }
    }

    @Test
    void allNamesEveryWorkloadOnceAndUnknownNamesAreRefused() {
        CommandLine.Model.CommandSpec spec = new CommandLine(new CompareCommand()).getCommandSpec();
        assertEquals(List.of(Workload.values()),
            CompareCommand.parseWorkloads(spec, List.of("fsx", "all"), List.of()).stream().sorted().toList());
        assertEquals(List.of(Workload.FSX, Workload.PARTIAL_BLOCK),
            CompareCommand.parseWorkloads(spec, List.of("fsx", "partial-block", "fsx"), List.of()));
        CommandLine.ParameterException e = assertThrows(CommandLine.ParameterException.class,
            () -> CompareCommand.parseWorkloads(spec, List.of("fsck"), List.of()));
        assertTrue(e.getMessage().contains("unknown workload 'fsck'") && e.getMessage().contains("fsx-direct"),
            e.getMessage());
    }
}
