package org.iomapfs.fuse.cli;

import org.iomapfs.core.api.FsException;
import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.ImageLock;
import org.iomapfs.fuse.Mounts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** What the subcommands share: exit statuses, the one-line failure, and checks of their arguments. */
final class Cli {
    /**
     * Exit status for input a command cannot use as given (as picocli's for a usage error): a path that is
     * missing or of the wrong kind, a file that is not an iomapfs image, a bad value. 1 is a failure of the
     * command itself (or, for fsck, problems found).
     */
    static final int EXIT_BAD_INPUT = 2;

    private Cli() { }

    /** A user-facing failure with a one-line message. */
    static final class Failure extends RuntimeException {
        final int exitCode;

        Failure(String message) { this(message, 1); }

        Failure(String message, int exitCode) {
            super(message);
            this.exitCode = exitCode;
        }
    }

    /** The engine refused its input (no such file, not an image, a bad value or an existing image): exit 2. */
    static Failure engineFailure(FsException e) {
        boolean bad = switch (e.errno()) {
            case ENOENT, EINVAL, EEXIST -> true;
            default -> false;
        };
        return new Failure(e.getMessage(), bad ? EXIT_BAD_INPUT : 1);
    }

    static Path abs(Path p) {
        return p.toAbsolutePath().normalize();
    }

    static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> mult = 1L << 10;
                case 'M' -> mult = 1L << 20;
                case 'G' -> mult = 1L << 30;
                case 'T' -> mult = 1L << 40;
                default -> mult = 1;
            }
            if (mult != 1) {
                t = t.substring(0, t.length() - 1);
            }
        }
        try {
            return Math.multiplyExact(Long.parseLong(t.trim()), mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new Failure("bad size '" + s + "' (examples: 4096, 512M, 2G)", EXIT_BAD_INPUT);
        }
    }

    static void requireIdle(Path image) {
        if (Files.exists(image) && !ImageLock.isFree(image)) {
            throw new Failure(Daemon.inUseMessage(image));
        }
    }

    static Mounts.Mount requireIomapfs(Path mnt) {
        Optional<Mounts.Mount> m = Mounts.at(mnt);
        if (m.isEmpty()) {
            throw new Failure(mnt + " is not mounted");
        }
        if (!m.get().isIomapfs()) {
            throw new Failure(mnt + " is not an iomapfs mount (it is " + m.get().fsType() + ")");
        }
        return m.get();
    }
}
