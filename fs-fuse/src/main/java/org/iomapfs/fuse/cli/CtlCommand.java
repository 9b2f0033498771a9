package org.iomapfs.fuse.cli;

import org.iomapfs.fuse.Native;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

@Command(name = "ctl", mixinStandardHelpOptions = true,
    description = {"Read or set control keys of a mounted file system.",
        "The keys are the files under MNT/.iomapfs.",
        "No KEY: list every key. KEY: print its value. KEY=VALUE: set it (owner only)."})
final class CtlCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MNT") Path mnt;
    @Parameters(index = "1..*", paramLabel = "KEY[=VALUE]") List<String> items = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        Path mp = Cli.abs(mnt);
        Cli.requireIomapfs(mp);
        Path dir = mp.resolve(".iomapfs");
        PrintWriter out = new PrintWriter(System.out, true);
        if (items.isEmpty()) {
            List<Path> files;
            try (Stream<Path> s = Files.walk(dir)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path f : files) {
                String key = dir.relativize(f).toString();
                List<String> lines = read(f, key).lines().toList();
                out.println(key + ": " + (lines.size() == 1 ? lines.get(0) : lines.isEmpty() ? "(empty)"
                    : "(" + lines.size() + " lines; iomapfs ctl " + mp + " " + key + ")"));
            }
            return 0;
        }
        for (String item : items) {
            int eq = item.indexOf('=');
            String key = eq < 0 ? item : item.substring(0, eq);
            Path f = dir.resolve(key).normalize();
            if (key.isEmpty() || !f.startsWith(dir) || !Files.isRegularFile(f)) {
                throw new Cli.Failure("unknown key '" + key + "' (iomapfs ctl " + mp + " lists them)", Cli.EXIT_BAD_INPUT);
            }
            if (eq < 0) {
                out.print(read(f, key));
                out.flush();
            } else {
                String value = item.substring(eq + 1);
                try {
                    Files.writeString(f, value + "\n");
                } catch (AccessDeniedException e) {
                    throw new Cli.Failure("cannot set " + key + "=" + value + ": " + denied(f, key));
                } catch (IOException e) {
                    // the write(2) failed with only an errno; the daemon keeps the engine's reason for this thread
                    String errno = reason(e);
                    throw new Cli.Failure("cannot set " + key + "=" + value + ": " + lastError(dir).orElse(errno),
                        errno.equals("Invalid argument") ? Cli.EXIT_BAD_INPUT : 1);
                }
            }
        }
        return 0;
    }

    private static String read(Path f, String key) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            throw new Cli.Failure("cannot read " + key + ": " + reason(e));
        }
    }

    /** Why opening a control file for writing was refused: not the mount's owner, or a read-only key. */
    private static String denied(Path f, String key) {
        try {
            int owner = (Integer) Files.getAttribute(f, "unix:uid");
            if (owner != Native.libc().getuid()) {
                return "permission denied: only the mount's owner may change controls (owner uid " + owner + ")";
            }
            if (!Files.getPosixFilePermissions(f).contains(java.nio.file.attribute.PosixFilePermission.OWNER_WRITE)) {
                return "permission denied: " + key + " is read-only";
            }
        } catch (IOException | UnsupportedOperationException e) {
            // fall through to the errno text
        }
        return "permission denied";
    }

    /** The daemon's message for this thread's last failed control write ({@code .iomapfs/last_error}). */
    private static Optional<String> lastError(Path dir) {
        try {
            String m = Files.readString(dir.resolve("last_error")).strip();
            return m.isEmpty() ? Optional.empty() : Optional.of(m);
        } catch (IOException e) {
            return Optional.empty(); // a daemon from before last_error
        }
    }

    /** The errno text ("Invalid argument", "Permission denied"), whatever exception type carries it. */
    private static String reason(IOException e) {
        if (e instanceof FileSystemException fe && fe.getReason() != null) {
            return fe.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
