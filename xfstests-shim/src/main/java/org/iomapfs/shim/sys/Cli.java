package org.iomapfs.shim.sys;

import picocli.CommandLine;

/** Runs a picocli workload command the way every shim workload does: a bad argument is one line and exit 2. */
public final class Cli {
    private Cli() { }

    /** Parses and runs {@code command}; returns the exit status (2 for bad arguments). */
    public static int run(String name, Object command, String... args) {
        CommandLine cl = new CommandLine(command);
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println(name + ": " + ex.getMessage() + " (see --help)");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println(name + ": " + (ex instanceof BadArgument ? ex.getMessage() : ex.toString()));
            return ex instanceof BadArgument ? 2 : 1;
        });
        return cl.execute(args);
    }

    /** An argument combination the option parser cannot see is wrong; its message is the one line printed. */
    public static final class BadArgument extends RuntimeException {
        public BadArgument(String message) {
            super(message);
        }
    }

    /** Sizes as fsx's getnum reads them: a number with an optional k, m or b (512-byte blocks) suffix. */
    public static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String s) {
            String t = s.trim().toLowerCase(java.util.Locale.ROOT);
            long mult = 1;
            if (t.endsWith("k")) {
                mult = 1024;
            } else if (t.endsWith("m")) {
                mult = 1024 * 1024;
            } else if (t.endsWith("g")) {
                mult = 1024L * 1024 * 1024;
            } else if (t.endsWith("b")) {
                mult = 512;
            }
            if (mult != 1) {
                t = t.substring(0, t.length() - 1);
            }
            try {
                return Math.multiplyExact(Long.decode(t), mult);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new CommandLine.TypeConversionException("'" + s + "' is not a size (a number with k, m, g or b)");
            }
        }
    }
}
