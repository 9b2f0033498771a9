package org.iomapfs.shim.io;

import org.iomapfs.shim.sys.Cli;
import picocli.CommandLine.Option;

import java.util.Locale;

/**
 * How long a looping workload runs: at most {@code rounds} rounds, {@code ops} operations, or {@code durationMs};
 * whichever comes first. Unset bounds are 0 (none); with no bound at all it runs {@code defaultRounds} rounds.
 */
public final class Budget {
    private final long rounds;
    private final long ops;
    private final long durationMs;
    private final long start = System.nanoTime();

    public Budget(long rounds, long ops, long durationMs, long defaultRounds) {
        boolean none = rounds <= 0 && ops <= 0 && durationMs <= 0;
        this.rounds = none ? defaultRounds : rounds;
        this.ops = ops;
        this.durationMs = durationMs;
    }

    public boolean more(long roundsDone, long opsDone) {
        return (rounds <= 0 || roundsDone < rounds) && (ops <= 0 || opsDone < ops)
            && (durationMs <= 0 || elapsedMs() < durationMs);
    }

    public long elapsedMs() {
        return (System.nanoTime() - start) / 1_000_000;
    }

    /** Parses 500ms, 30s, 2m, 1h, or plain seconds. */
    public static long parseDurationMs(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long mult = 1000;
        if (t.endsWith("ms")) {
            mult = 1;
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("s")) {
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("m")) {
            mult = 60_000;
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("h")) {
            mult = 3_600_000;
            t = t.substring(0, t.length() - 1);
        }
        try {
            long v = Long.parseLong(t.trim());
            if (v < 0) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(v, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("bad duration '" + s + "' (examples: 500ms, 30s, 2m)");
        }
    }

    /** picocli converter for duration options. */
    public static final class DurationConverter extends Cli.Converter<Long> {
        @Override
        protected Long parse(String value) {
            return parseDurationMs(value);
        }
    }

    /**
     * A looping workload's bounds, --rounds, --ops and --duration (a picocli mixin); what an op is, each
     * workload's description says.
     */
    public static final class Options {
        @Option(names = "--rounds", defaultValue = "0", description = "at most this many rounds, each on a fresh file")
        public long rounds;
        @Option(names = "--ops", defaultValue = "0", description = "stop after this many operations")
        public long ops;
        @Option(names = "--duration", defaultValue = "0", converter = DurationConverter.class,
            description = "stop starting rounds after this long (500ms, 30s, 2m)")
        public long durationMs;

        /** Whether any bound was given. */
        public boolean given() {
            return rounds > 0 || ops > 0 || durationMs > 0;
        }

        /** A budget starting now; with no bound given, {@code defaultRounds} rounds. */
        public Budget start(long defaultRounds) {
            return new Budget(rounds, ops, durationMs, defaultRounds);
        }
    }
}
