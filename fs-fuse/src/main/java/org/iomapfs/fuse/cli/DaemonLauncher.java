package org.iomapfs.fuse.cli;

import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.Native;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A background mount: this same program started again as a detached daemon JVM that runs the same command
 * with {@code --foreground}, given the options the CLI parsed; the CLI returns once the mount answers.
 */
final class DaemonLauncher {
    /** Environment variable with extra JVM options of a background mount's daemon. */
    static final String DAEMON_OPTS_ENV = "IOMAPFS_DAEMON_JAVA_OPTS";
    /** How long a background mount waits for its daemon. */
    static final long MOUNT_WAIT_MS = Long.getLong("iomapfs.mountWaitMs", 60_000);

    /**
     * A bounded young generation. Each new folio allocates its small objects (the folio, its lock, its block
     * state) that live as long as it stays cached, and G1's young generation, sized from a maximum heap of a quarter
     * of the machine's memory, kept growing into memory never touched before instead of reusing its eden: on this
     * kind of guest every first touch of a heap page is a page fault (native_set_pte under the allocating threads in
     * perf), and a streaming write through the mount slowed at each 8 s round (fio 1 MiB writes, two daemons: 814,
     * 690, 611 and 898, 623, 606 MB/s; heap in use 415, 708, 956 MB with no GC after the first 15 s). With at most
     * 128 MiB of young generation eden is reused and the rate holds (847, 845, 856 and 766, 792, 822 MB/s, 1.1 ms
     * of daemon CPU per MiB against 1.1-1.7).
     */
    static final List<String> DAEMON_JVM_DEFAULTS = List.of("-XX:MaxNewSize=128m");

    private DaemonLauncher() { }

    /** The command line that gives a daemon the values of a mixin's options: flags that are set, each map entry. */
    static List<String> argsOf(CommandSpec mixin) {
        List<String> args = new ArrayList<>();
        for (OptionSpec o : mixin.options()) {
            Object v = o.getValue();
            String name = o.longestName();
            if (v instanceof Boolean set) {
                if (set) {
                    args.add(name);
                }
            } else if (v instanceof Map<?, ?> entries) {
                entries.forEach((k, x) -> args.addAll(List.of(name, k + "=" + x)));
            } else if (v != null) {
                args.addAll(List.of(name, v.toString()));
            }
        }
        return args;
    }

    /**
     * Runs {@code iomapfs COMMAND POSITIONAL... --foreground OPTIONS...} as a daemon with its output in
     * {@code log} (default: in the temporary directory) and waits until {@code mp} is mounted with type
     * {@code fsType} and answers. {@code source} names what was mounted in the message.
     */
    static int launch(String command, List<String> positional, List<String> options, Path mp, Path log,
                      String fsType, String source) throws IOException, InterruptedException {
        Path logFile = log != null ? Cli.abs(log) : Path.of(System.getProperty("java.io.tmpdir"),
            "iomapfs-" + Native.libc().getuid() + "-" + Integer.toHexString(mp.toString().hashCode()) + ".log");
        List<String> cmd = new ArrayList<>();
        String setsid = Stream.of("/usr/bin/setsid", "/bin/setsid").filter(p -> Files.isExecutable(Path.of(p)))
            .findFirst().orElse(null);
        if (setsid != null) {
            cmd.add(setsid); // own session: a terminal's ^C to the CLI must not reach the daemon
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-XX:+ExitOnOutOfMemoryError");
        cmd.addAll(DAEMON_JVM_DEFAULTS);
        // the daemon's own JVM options (a profiler, heap settings; later ones win, so these replace the defaults);
        // IOMAPFS_JAVA_OPTS only reaches this CLI
        String daemonOpts = System.getenv(DAEMON_OPTS_ENV);
        if (daemonOpts != null && !daemonOpts.isBlank()) {
            cmd.addAll(List.of(daemonOpts.strip().split("\\s+")));
        }
        for (String p : List.of(Native.LIBFUSE_PROPERTY, LockOrder.PROPERTY, LockOrder.DIR_PROPERTY,
                Daemon.HOLD_START_PROPERTY)) {
            if (System.getProperty(p) != null) {
                cmd.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.add(command);
        cmd.addAll(positional);
        cmd.add("--foreground"); // right after the positionals: the benches find the daemon by this prefix
        cmd.addAll(options);
        Files.deleteIfExists(logFile);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectOutput(logFile.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
        long deadline = System.currentTimeMillis() + MOUNT_WAIT_MS;
        while (System.currentTimeMillis() < deadline) {
            Optional<Mounts.Mount> m = Mounts.at(mp);
            // mounted, and the daemon answers a lookup (its request loop runs)
            if (m.isPresent() && m.get().fsType().equals(fsType) && Files.isDirectory(mp.resolve(".iomapfs"))) {
                System.out.println("mounted " + source + " at " + mp + " (daemon pid " + p.pid() + ", log " + logFile + ")");
                return 0;
            }
            if (!p.isAlive()) {
                // the daemon ran this same CLI: its status tells bad input (2) from a failure (1)
                throw new Cli.Failure(lastLine(logFile, command).orElse("the daemon exited with status "
                    + p.exitValue() + " (log: " + logFile + ")"), p.exitValue() == Cli.EXIT_BAD_INPUT ? Cli.EXIT_BAD_INPUT : 1);
            }
            Thread.sleep(20); // polling the mount table while the daemon starts
        }
        p.destroy();
        throw new Cli.Failure("the daemon did not mount " + mp + " within " + MOUNT_WAIT_MS / 1000 + " s (log: " + logFile + ")");
    }

    /** The daemon's own one-line error ("iomapfs COMMAND: ..."), else its last line that is not a stack frame. */
    private static Optional<String> lastLine(Path logFile, String command) throws IOException {
        List<String> lines = Files.exists(logFile) ? Files.readAllLines(logFile) : List.of();
        String prefix = "iomapfs " + command + ": ";
        for (int i = lines.size() - 1; i >= 0; i--) {
            String l = lines.get(i).strip();
            if (l.startsWith(prefix)) {
                return Optional.of(l.substring(prefix.length()));
            }
        }
        for (int i = lines.size() - 1; i >= 0; i--) {
            String l = lines.get(i).strip();
            if (!l.isEmpty() && !l.startsWith("at ") && !l.matches("\\.\\.\\. \\d+ more")) {
                return Optional.of(l);
            }
        }
        return Optional.empty();
    }
}
