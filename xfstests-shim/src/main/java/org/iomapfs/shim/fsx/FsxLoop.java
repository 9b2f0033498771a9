package org.iomapfs.shim.fsx;

import org.iomapfs.shim.io.Budget;
import org.iomapfs.shim.io.Summary;
import org.iomapfs.shim.sys.Cli;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * fsx in rounds, for {@code compare}: each round is one fsx run (fresh file FILE.N, seed SEED+N, at most
 * {@code --round-ops} operations, then fsx's final check through the daemon) until the budget is spent. fsx stops
 * at its first mismatch, so a round finds at most one corruption: the RESULT line counts failing rounds as
 * corrupted markers and the bytes the failing reads found wrong as corrupted bytes. Failing rounds keep their
 * .fsxops (replay with {@code fsx --replay}); passing rounds leave nothing.
 */
@Command(name = "fsx-loop", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
    description = {"fsx (fstests ltp/fsx.c) in rounds on fresh files until --rounds, --ops or --duration is spent; "
        + "the last line is RESULT {json}: rounds, operations, failing rounds (corruptedMarkers), the bytes the "
        + "failing reads found wrong (corruptedBytes), ms to the first failing round.",
        "Options after -- go to every fsx round (e.g. -- -Z for O_DIRECT). --ops counts fsx operations in all; "
            + "at --duration the round in flight ends with its final check.",
        "Exit 0: every round passed; 1: a round found bad data or a bad size; 2: bad arguments; 3: an fsx call "
            + "failed (its status is in the output)."})
public final class FsxLoop implements Callable<Integer> {
    /** fsx statuses that are findings about the data rather than a failed call: bad data, bad size. */
    static final int BAD_DATA = 110;
    static final int BAD_SIZE = 120;
    /** Failing rounds whose files and logs are kept; later ones are counted and removed. */
    static final int KEEP = 10;

    @Parameters(index = "0", paramLabel = "FILE", description = "base name of the test files (FILE.1, FILE.2, ...)")
    Path file;
    @Parameters(index = "1..*", paramLabel = "FSX_OPTION", description = "fsx options for every round (after --)")
    List<String> fsxArgs = new ArrayList<>();
    @Option(names = "--round-ops", defaultValue = "1000",
        description = "operations per fsx round (generic/075's short runs: -N 1000) (default: ${DEFAULT-VALUE})")
    long roundOps;
    @Option(names = {"-S", "--seed"}, defaultValue = "0",
        description = "seed of round 1 (round N uses SEED+N-1); 0 picks one from the clock")
    long seed;
    @Option(names = {"-P", "--log-dir"}, description = "where failing rounds' .fsxops and .fsxgood go (default: beside FILE)")
    Path logDir;
    /** --rounds, --ops (fsx operations in all), --duration; one round without any. */
    @Mixin
    Budget.Options bounds = new Budget.Options();

    private final PrintStream out;
    /** Test seam: the afterOp hook of each round's fsx, by round number (a unit test corrupts one round's file). */
    java.util.function.LongFunction<java.util.function.LongConsumer> afterOp = n -> null;

    public FsxLoop() {
        this(System.out);
    }

    FsxLoop(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(Cli.run("fsx-loop", new FsxLoop(), args));
    }

    /** One fsx round's outcome. */
    record Round(long n, long seed, int status, long ops, long badBytes, long firstBadOffset) {
        boolean corrupted() {
            return status == BAD_DATA || status == BAD_SIZE;
        }
    }

    @Override
    public Integer call() throws Exception {
        if (roundOps <= 0 || bounds.rounds < 0 || bounds.ops < 0 || bounds.durationMs < 0) {
            throw new Cli.BadArgument("--round-ops must be positive, --rounds, --ops and --duration not negative");
        }
        for (String a : fsxArgs) {
            if (List.of("-N", "--num-ops", "-S", "--seed", "-P", "--log-dir", "--replay", "--replay-ops").contains(a)
                || a.matches("--(num-ops|seed|log-dir|replay|replay-ops)=.*")) {
                throw new Cli.BadArgument("fsx option " + a + " is fsx-loop's to set (--round-ops, -S, -P)");
            }
        }
        if (!Files.isDirectory(file.toAbsolutePath().getParent())) {
            throw new Cli.BadArgument("no directory " + file.toAbsolutePath().getParent() + " for " + file);
        }
        // the fsx options are checked once, before any round, so a bad one is a one-line exit 2
        Fsx check = new Fsx();
        try {
            new CommandLine(check).parseArgs(fsxArgs(1, 1, file).toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new Cli.BadArgument("bad fsx option: " + e.getMessage());
        }
        check.validate();
        if (seed == 0) {
            seed = (System.nanoTime() ^ ProcessHandle.current().pid()) & 0x3fffffffL | 1;
        }
        Path logs = logDir != null ? logDir : file.toAbsolutePath().getParent();
        Files.createDirectories(logs);
        out.println("fsx-loop: seed " + seed + ", " + roundOps + " operations per round, fsx options " + fsxArgs);

        Budget budget = bounds.start(1);
        List<Round> done = new ArrayList<>();
        long opsDone = 0;
        long firstMs = -1;
        long[] lastProgress = {0};
        while (budget.more(done.size(), opsDone)) {
            long n = done.size() + 1;
            long roundSeed = seed + n - 1;
            long limit = bounds.ops > 0 ? Math.min(roundOps, bounds.ops - opsDone) : roundOps;
            Path f = file.resolveSibling(file.getFileName() + "." + n);
            Fsx fsx = new Fsx(out);
            fsx.afterOp = afterOp.apply(n);
            long before = opsDone;
            long bad = done.stream().filter(Round::corrupted).count();
            fsx.keepGoing = () -> {
                if (budget.elapsedMs() - lastProgress[0] >= 1000) {
                    lastProgress[0] = budget.elapsedMs();
                    out.println(Summary.progress(before + fsx.operations(), bad, lastProgress[0]));
                }
                return bounds.durationMs <= 0 || budget.elapsedMs() < bounds.durationMs;
            };
            out.println("fsx-loop: round " + n + ": fsx -S " + roundSeed + " -N " + limit + " " + f);
            int status = Cli.run("fsx", fsx, fsxArgs(roundSeed, limit, f, logs).toArray(String[]::new));
            Round r = new Round(n, roundSeed, status, fsx.operations(), fsx.badBytes(), fsx.firstBadOffset());
            done.add(r);
            opsDone += r.ops();
            if (r.corrupted() && firstMs < 0) {
                firstMs = budget.elapsedMs();
            }
            long failing = done.stream().filter(x -> x.status() != 0).count();
            if (status == 0 || failing > KEEP) {
                Files.deleteIfExists(f);
                Files.deleteIfExists(logs.resolve(f.getFileName() + ".fsxops"));
                Files.deleteIfExists(logs.resolve(f.getFileName() + ".fsxgood"));
            }
            if (status != 0) {
                out.println("fsx-loop: round " + n + " (seed " + roundSeed + ") exited " + status + " after " + r.ops()
                    + " operations" + (failing <= KEEP ? "; its log: " + logs.resolve(f.getFileName() + ".fsxops") : ""));
            }
            if (status != 0 && !r.corrupted()) {
                break;
            }
        }
        if (logDir != null) {
            try (var left = Files.list(logs)) {
                if (left.findAny().isEmpty()) {
                    Files.delete(logs); // made for failing rounds' logs, and there were none
                }
            }
        }
        out.println(summary(done, seed, roundOps, fsxArgs, firstMs, budget.elapsedMs()).line());
        if (done.stream().anyMatch(r -> r.status() != 0 && !r.corrupted())) {
            return 3;
        }
        return done.stream().anyMatch(Round::corrupted) ? 1 : 0;
    }

    /** fsx's arguments for one round (options first, the file last). */
    private List<String> fsxArgs(long roundSeed, long limit, Path f, Path... logs) {
        List<String> a = new ArrayList<>(List.of("-S", Long.toString(roundSeed), "-N", Long.toString(limit)));
        if (logs.length > 0) {
            a.addAll(List.of("-P", logs[0].toString()));
        }
        a.addAll(fsxArgs);
        a.add(f.toString());
        return a;
    }

    /**
     * The RESULT line: a failing round is one corrupted marker (fsx stops at its first mismatch), its corrupted
     * bytes are those the failing read found wrong from the first bad byte on (0 for a size error).
     */
    static Summary summary(List<Round> done, long seed, long roundOps, List<String> fsxArgs, long firstMs, long elapsedMs) {
        long opsDone = done.stream().mapToLong(Round::ops).sum();
        List<Round> bad = done.stream().filter(Round::corrupted).toList();
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("seed", seed);
        detail.put("roundOps", roundOps);
        detail.put("fsxOptions", String.join(" ", fsxArgs));
        detail.put("badDataRounds", bad.stream().filter(r -> r.status() == BAD_DATA).count());
        detail.put("badSizeRounds", bad.stream().filter(r -> r.status() == BAD_SIZE).count());
        detail.put("failedCallRounds", done.stream().filter(r -> r.status() != 0 && !r.corrupted()).count());
        detail.put("failingRounds", done.stream().filter(r -> r.status() != 0)
            .map(r -> Map.of("round", r.n(), "seed", r.seed(), "status", r.status(), "ops", r.ops(),
                "badBytes", r.badBytes(), "firstBadOffset", r.firstBadOffset())).limit(100).toList());
        return new Summary("fsx", done.size(), opsDone, bad.size(), bad.stream().mapToLong(Round::badBytes).sum(),
            firstMs, elapsedMs, detail);
    }
}
