package org.iomapfs.shim.sys;

import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.util.Locale;

/**
 * Runs a picocli workload command the way every shim workload does: exit 2 and one line for a bad argument, exit 1
 * and one line for a call that failed (each workload's --help gives its other statuses).
 */
public final class Cli {
    private Cli() { }

    /** Parses and runs {@code command}; returns the exit status (2 for bad arguments). */
    public static int run(String name, Object command, String... args) {
        CommandLine cl = new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println(name + ": " + ex.getMessage() + " (see --help)");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println(name + ": " + describe(ex));
            return ex instanceof BadArgument ? 2 : 1;
        });
        return cl.execute(args);
    }

    /**
     * The one line for a failure: the message of a bad argument or of an I/O error this module raised, else the
     * exception itself (a NoSuchFileException's message is only the path, so its class name stays).
     */
    static String describe(Exception ex) {
        boolean ownMessage = ex instanceof BadArgument
            || ex instanceof IOException && !(ex instanceof FileSystemException) && ex.getMessage() != null;
        return ownMessage ? ex.getMessage() : ex.toString();
    }

    /** An argument combination the option parser cannot see is wrong; its message is the one line printed. */
    public static final class BadArgument extends RuntimeException {
        public BadArgument(String message) {
            super(message);
        }
    }

    /**
     * A size as fsx's getnum reads it: a number (decimal, or 0x hex) with an optional k, m, g or b (512-byte
     * blocks) suffix, either case; a bare number counts {@code unit} bytes (1 for fsx, 1 MiB for holetest's SIZE).
     *
     * @throws IllegalArgumentException when it is not one
     */
    public static long parseSize(String s, long unit) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long mult = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
            case 'k' -> 1024;
            case 'm' -> 1024 * 1024;
            case 'g' -> 1024L * 1024 * 1024;
            case 'b' -> 512;
            default -> 0;
        };
        if (mult != 0) {
            t = t.substring(0, t.length() - 1);
        }
        try {
            return Math.multiplyExact(Long.decode(t), mult != 0 ? mult : unit);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("'" + s + "' is not a size (a number with k, m, g or b)");
        }
    }

    /** A picocli converter over a parser whose IllegalArgumentException says in one line what is wrong. */
    public abstract static class Converter<T> implements CommandLine.ITypeConverter<T> {
        protected abstract T parse(String s);

        @Override
        public final T convert(String s) {
            try {
                return parse(s);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** Byte sizes: {@link #parseSize} with bare numbers in bytes. */
    public static final class SizeConverter extends Converter<Long> {
        @Override
        protected Long parse(String s) {
            return parseSize(s, 1);
        }
    }
}
