package org.iomapfs.fuse.cli;

import org.iomapfs.core.api.FsException;
import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.DaemonState;
import org.iomapfs.fuse.Engine;
import org.iomapfs.fuse.FuseMount;
import org.iomapfs.fuse.ImageLock;
import org.iomapfs.fuse.Log;
import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.Native;
import org.iomapfs.fuse.Unmount;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import org.iomapfs.core.lockdep.LockOrder;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/** The {@code iomapfs} command line. Every command talks to a live daemon only through its mount. */
@Command(name = "iomapfs", mixinStandardHelpOptions = true, version = "iomapfs 0.1.0",
    description = "A FUSE file system with a model of the kernel's iomap buffered I/O engine.",
    subcommands = {Main.Mkfs.class, Main.Mount.class, Main.Umount.class, Main.Ctl.class, Main.Stats.class,
        Main.Fsck.class, ExploreCommand.class})
public final class Main implements Runnable {
    /** How long a background mount waits for its daemon, and umount for the daemon to close the image. */
    /** Environment variable with extra JVM options of a background mount's daemon. */
    static final String DAEMON_OPTS_ENV = "IOMAPFS_DAEMON_JAVA_OPTS";
    static final long MOUNT_WAIT_MS = Long.getLong("iomapfs.mountWaitMs", 60_000);
    static final long UMOUNT_WAIT_MS = Long.getLong("iomapfs.umountWaitMs", 300_000);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int rc = run(args);
        System.exit(rc);
    }

    /** Runs the CLI and returns its exit status (tests call this in-process). */
    public static int run(String... args) {
        return run(new PrintWriter(System.err, true), args);
    }

    /** Runs the CLI with error messages going to {@code err}. */
    public static int run(PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            String msg = ex instanceof Failure || ex instanceof Daemon.MountFailure
                ? ex.getMessage() : ex.toString();
            cmd.getErr().println("iomapfs " + cmd.getCommandName() + ": " + msg);
            return ex instanceof Failure f ? f.exitCode
                : ex instanceof Daemon.MountFailure m && m.badInput() ? EXIT_BAD_INPUT : 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * Exit status for input a command cannot use as given (as picocli's for a usage error): a path that is
     * missing or of the wrong kind, a file that is not an iomapfs image, a bad value. 1 is a failure of the
     * command itself (or, for fsck, problems found).
     */
    static final int EXIT_BAD_INPUT = 2;

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

    // ------------------------------------------------------------------------------------------- mkfs

    @Command(name = "mkfs", mixinStandardHelpOptions = true, description = "Create (format) an image file.")
    static final class Mkfs implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE", description = "image file to create")
        Path image;
        @Option(names = "--size", defaultValue = "1G", description = "image size, e.g. 512M, 2G (default: ${DEFAULT-VALUE})")
        String size;
        @Option(names = "--block-size", defaultValue = "4096", description = "block size in bytes (default: ${DEFAULT-VALUE})")
        int blockSize;
        @Option(names = "--force", description = "overwrite an existing image")
        boolean force;

        @Override
        public Integer call() {
            Path img = abs(image);
            requireIdle(img);
            long bytes = parseSize(size);
            try {
                Engine.load().mkfs(img, bytes, blockSize, force);
            } catch (FsException e) {
                throw engineFailure(e);
            }
            System.out.println("formatted " + img + ": " + bytes + " bytes, block size " + blockSize);
            return 0;
        }
    }

    // ------------------------------------------------------------------------------------------- mount

    @Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Mount IMAGE on MNT.",
            "Without --foreground the daemon runs as its own process and the command returns once the mount",
            "is live (non-zero with the daemon's one-line error otherwise)."})
    static final class Mount implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE") Path image;
        @Parameters(index = "1", paramLabel = "MNT") Path mnt;
        @Option(names = "--mode", description = "engine mode: buggy or fixed (written to the control key 'mode')")
        String mode;
        @Option(names = "--bug", paramLabel = "NAME=buggy|fixed", description = "set one bug switch (bugs/NAME); repeatable")
        Map<String, String> bugs = new LinkedHashMap<>();
        @Option(names = "--inject", paramLabel = "KNOB=VALUE", description = "set one fault-injection knob (inject/KNOB); repeatable")
        Map<String, String> injects = new LinkedHashMap<>();
        @Option(names = "--cache-mb", defaultValue = "256", description = "engine page-cache budget in MiB (default: ${DEFAULT-VALUE})")
        long cacheMb;
        @Option(names = "--foreground", description = "serve in this process until unmounted")
        boolean foreground;
        @Option(names = "--threads", defaultValue = "16", description = "request threads (default: ${DEFAULT-VALUE})")
        int threads;
        @Option(names = "--loop", defaultValue = "pool",
            description = "request loop: pool (fixed Java threads) or stock (libfuse's fuse_loop_mt) (default: ${DEFAULT-VALUE})")
        String loop;
        @Option(names = "--max-write", defaultValue = "131072", description = "FUSE max_write in bytes (default: ${DEFAULT-VALUE})")
        int maxWrite;
        @Option(names = "--log", description = "daemon log file (background mounts; default: in the temporary directory)")
        Path log;
        @Option(names = "--lockdep", description = "check the engine's lock order at run time; reports go to the log and to .iomapfs/lockdep")
        boolean lockdep;
        @Option(names = "--debug", description = "libfuse debug output (-d) in the log")
        boolean debug;
        @Option(names = "--fsname", paramLabel = "NAME",
            description = "mount source shown in the mount table (default: the image path); fstests finds TEST_DEV by it")
        String fsName;
        @Option(names = "--hung-timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "log every thread's stack and held locks once a request or engine thread has made no"
                + " progress for this long, and count it in iomapfs_hung_tasks_total; 0: off (default: ${DEFAULT-VALUE})")
        long hungTimeout;
        @Option(names = "--no-subtype",
            description = "file system type plain 'fuse' instead of 'fuse.iomapfs' (what fstests' FSTYP=fuse looks for)")
        boolean noSubtype;

        @Override
        public Integer call() throws Exception {
            Path img = abs(image);
            Path mp = abs(mnt);
            FuseMount.LoopKind kind = switch (loop) {
                case "pool" -> FuseMount.LoopKind.POOL;
                case "stock" -> FuseMount.LoopKind.STOCK;
                default -> throw new Failure("bad --loop '" + loop + "' (pool or stock)", EXIT_BAD_INPUT);
            };
            if (cacheMb <= 0) {
                throw new Failure("--cache-mb must be positive", EXIT_BAD_INPUT);
            }
            if (hungTimeout < 0) {
                throw new Failure("--hung-timeout must be 0 (off) or a number of seconds", EXIT_BAD_INPUT);
            }
            if (fsName != null && (fsName.isBlank() || fsName.chars().anyMatch(Character::isWhitespace))) {
                throw new Failure("bad --fsname '" + fsName + "' (non-empty, no white space)", EXIT_BAD_INPUT);
            }
            Daemon.checkImage(img);
            Daemon.checkMountPoint(mp);
            Daemon.checkFuseLibrary();
            if (!ImageLock.isFree(img)) {
                throw new Failure(Daemon.inUseMessage(img));
            }
            return foreground ? serve(img, mp, kind) : spawn(img, mp);
        }

        private int serve(Path img, Path mp, FuseMount.LoopKind kind) throws InterruptedException {
            boolean root = Native.libc().getuid() == 0;
            FuseMount.Options o = new FuseMount.Options(fsName != null ? fsName : img.toString(), threads, kind,
                maxWrite, root || userAllowOther(), debug, !noSubtype);
            if (lockdep) {
                // before any engine class loads: lockdep's checks are compiled in only when the JVM has it
                System.setProperty(LockOrder.PROPERTY, "true");
                LockOrder.LOCKDEP.setOn(true);
            }
            LockOrder.LOCKDEP.addReporter(r -> Log.info("lockdep:\n" + r));
            Daemon d = new Daemon(new Daemon.Settings(img, mp, mode, bugs, injects, cacheMb << 20, o))
                .hungTimeout(hungTimeout);
            d.start();
            System.out.println("iomapfs: mounted " + img + " at " + mp + " (pid " + ProcessHandle.current().pid()
                + ", " + threads + " " + kind.name().toLowerCase(Locale.ROOT) + " threads)");
            System.out.flush();
            Log.info("serving " + mp);
            return d.runUntilUnmounted();
        }

        private static boolean userAllowOther() {
            try {
                return Files.readAllLines(Path.of("/etc/fuse.conf")).stream()
                    .anyMatch(l -> l.strip().equals("user_allow_other"));
            } catch (IOException e) {
                return false;
            }
        }

        /** Starts this same program as a detached daemon JVM and waits until the mount answers. */
        private int spawn(Path img, Path mp) throws IOException, InterruptedException {
            Path logFile = log != null ? abs(log) : Path.of(System.getProperty("java.io.tmpdir"),
                "iomapfs-" + Native.libc().getuid() + "-" + Integer.toHexString(mp.toString().hashCode()) + ".log");
            List<String> cmd = new ArrayList<>();
            String setsid = Stream.of("/usr/bin/setsid", "/bin/setsid").filter(p -> Files.isExecutable(Path.of(p)))
                .findFirst().orElse(null);
            if (setsid != null) {
                cmd.add(setsid); // own session: a terminal's ^C to the CLI must not reach the daemon
            }
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("-XX:+ExitOnOutOfMemoryError");
            // the daemon's own JVM options (a profiler, heap settings); IOMAPFS_JAVA_OPTS only reaches this CLI
            String daemonOpts = System.getenv(DAEMON_OPTS_ENV);
            if (daemonOpts != null && !daemonOpts.isBlank()) {
                cmd.addAll(List.of(daemonOpts.strip().split("\\s+")));
            }
            for (String p : List.of(Engine.PROPERTY, Native.LIBFUSE_PROPERTY, LockOrder.PROPERTY, LockOrder.DIR_PROPERTY)) {
                if (System.getProperty(p) != null) {
                    cmd.add("-D" + p + "=" + System.getProperty(p));
                }
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(Main.class.getName());
            cmd.addAll(List.of("mount", img.toString(), mp.toString(), "--foreground",
                "--cache-mb", Long.toString(cacheMb), "--threads", Integer.toString(threads), "--loop", loop,
                "--max-write", Integer.toString(maxWrite), "--hung-timeout", Long.toString(hungTimeout)));
            if (mode != null) {
                cmd.addAll(List.of("--mode", mode));
            }
            bugs.forEach((k, v) -> cmd.addAll(List.of("--bug", k + "=" + v)));
            injects.forEach((k, v) -> cmd.addAll(List.of("--inject", k + "=" + v)));
            if (debug) {
                cmd.add("--debug");
            }
            if (lockdep) {
                cmd.add("--lockdep");
            }
            if (fsName != null) {
                cmd.addAll(List.of("--fsname", fsName));
            }
            if (noSubtype) {
                cmd.add("--no-subtype");
            }
            String fsType = noSubtype ? "fuse" : Mounts.FSTYPE;
            Files.deleteIfExists(logFile);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(logFile.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
            long deadline = System.currentTimeMillis() + MOUNT_WAIT_MS;
            while (System.currentTimeMillis() < deadline) {
                Optional<Mounts.Mount> m = Mounts.at(mp);
                // mounted, and the daemon answers a lookup (its request loop runs)
                if (m.isPresent() && m.get().fsType().equals(fsType) && Files.isDirectory(mp.resolve(".iomapfs"))) {
                    System.out.println("mounted " + img + " at " + mp + " (daemon pid " + p.pid() + ", log " + logFile + ")");
                    return 0;
                }
                if (!p.isAlive()) {
                    // the daemon ran this same CLI: its status tells bad input (2) from a failure (1)
                    throw new Failure(lastLine(logFile).orElse("the daemon exited with status " + p.exitValue()
                        + " (log: " + logFile + ")"), p.exitValue() == EXIT_BAD_INPUT ? EXIT_BAD_INPUT : 1);
                }
                Thread.sleep(20); // polling the mount table while the daemon starts
            }
            p.destroy();
            throw new Failure("the daemon did not mount " + mp + " within " + MOUNT_WAIT_MS / 1000 + " s (log: " + logFile + ")");
        }

        private static Optional<String> lastLine(Path logFile) throws IOException {
            List<String> lines = Files.exists(logFile) ? Files.readAllLines(logFile) : List.of();
            for (int i = lines.size() - 1; i >= 0; i--) {
                String l = lines.get(i).strip();
                if (l.startsWith("iomapfs mount: ")) {
                    return Optional.of(l.substring("iomapfs mount: ".length()));
                }
            }
            // otherwise the last line that is not part of a stack trace (a frame says nothing of the cause)
            for (int i = lines.size() - 1; i >= 0; i--) {
                String l = lines.get(i).strip();
                if (!l.isEmpty() && !l.startsWith("at ") && !l.matches("\\.\\.\\. \\d+ more")) {
                    return Optional.of(l);
                }
            }
            return Optional.empty();
        }
    }

    // ------------------------------------------------------------------------------------------- umount

    @Command(name = "umount", mixinStandardHelpOptions = true,
        description = {"Unmount MNT and wait until its daemon has flushed, committed and closed the image.",
            "A hung daemon (its watchdog found a request or engine thread blocked) is not",
            "unmounted: the command says so. --force aborts its FUSE connection, detaches MNT",
            "and stops it; what was fsynced stays on the image (check it with iomapfs fsck)."})
    static final class Umount implements Callable<Integer> {
        /** How long --force gives the daemon to exit after SIGTERM before SIGKILL. */
        static final long FORCE_GRACE_MS = Long.getLong("iomapfs.forceGraceMs", 20_000);

        @Parameters(index = "0", paramLabel = "MNT") Path mnt;
        @Option(names = "--lazy", description = "detach even if files are open (the daemon exits when they are closed)")
        boolean lazy;
        @Option(names = "--force", description = "abort the FUSE connection (mounting fusectl on /sys/fs/fuse/connections"
            + " if needed), detach MNT, then stop the daemon: SIGTERM, SIGKILL after 20 s")
        boolean force;

        @Override
        public Integer call() throws InterruptedException {
            Path mp = abs(mnt);
            Mounts.Mount m = requireIomapfs(mp);
            Optional<DaemonState> state = DaemonState.find(mp);
            Path image = state.map(DaemonState::image).orElse(Path.of(m.source()));
            if (force) {
                return forceUnmount(mp, m, state, image);
            }
            state.filter(DaemonState::hung).ifPresent(st -> {
                throw new Failure("cannot unmount " + mp + ": " + hungReason(mp, st));
            });
            String err = Unmount.unmount(mp, lazy);
            if (err != null) {
                Optional<DaemonState> now = DaemonState.find(mp).filter(DaemonState::hung);
                throw new Failure("cannot unmount " + mp + ": " + now.map(st -> hungReason(mp, st)).orElse(err));
            }
            return waitForImage(mp, image, state);
        }

        static String hungReason(Path mp, DaemonState st) {
            return "its daemon (pid " + st.pid() + ") is hung: " + st.summary()
                + " (its log has every thread's stack; iomapfs umount --force " + mp + " aborts the connection and stops it)";
        }

        /** Waits until the daemon has closed the image (it drops the image lock then); fails early if it hangs. */
        private static int waitForImage(Path mp, Path image, Optional<DaemonState> state) throws InterruptedException {
            if (!Files.exists(image)) {
                return 0;
            }
            long deadline = System.currentTimeMillis() + UMOUNT_WAIT_MS;
            while (!ImageLock.isFree(image)) {
                Optional<DaemonState> hung = state.isPresent() ? DaemonState.find(mp).filter(DaemonState::hung) : Optional.empty();
                if (hung.isPresent()) {
                    throw new Failure("unmounted " + mp + ", but " + hungReason(mp, hung.get()));
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new Failure("unmounted " + mp + ", but its daemon still holds " + image + " after "
                        + UMOUNT_WAIT_MS / 1000 + " s");
                }
                Thread.sleep(20); // polling the image lock the daemon drops once the engine is closed
            }
            return 0;
        }

        /** --force: abort the connection, detach the mount, stop the daemon (SIGTERM, then SIGKILL). */
        private static int forceUnmount(Path mp, Mounts.Mount m, Optional<DaemonState> state, Path image)
                throws InterruptedException {
            List<String> done = new ArrayList<>();
            String abort = Unmount.abortConnection(m.minor());
            if (abort != null) {
                System.err.println("iomapfs umount: " + abort);
            } else {
                done.add("aborted FUSE connection " + m.minor());
            }
            if (Mounts.at(mp).isPresent()) {
                String err = Unmount.unmount(mp, true);
                if (err != null) {
                    throw new Failure("cannot detach " + mp + ": " + err);
                }
                done.add("detached " + mp);
            }
            Optional<ProcessHandle> daemon = state.flatMap(DaemonState::process);
            if (daemon.isPresent()) {
                ProcessHandle p = daemon.get();
                p.destroy();
                boolean termed = waitExit(p, FORCE_GRACE_MS);
                if (!termed) {
                    p.destroyForcibly();
                    if (!waitExit(p, 10_000)) {
                        throw new Failure("daemon pid " + p.pid() + " of " + mp + " survived SIGKILL");
                    }
                }
                done.add("stopped daemon pid " + p.pid() + (termed ? " (SIGTERM)" : " (SIGKILL after " + FORCE_GRACE_MS / 1000 + " s)"));
            } else {
                done.add("found no live daemon for " + mp);
            }
            System.out.println("iomapfs umount: " + String.join(", ", done));
            if (Files.exists(image) && !ImageLock.isFree(image)) {
                throw new Failure("the image " + image + " is still locked by another process");
            }
            return 0;
        }

        private static boolean waitExit(ProcessHandle p, long ms) throws InterruptedException {
            try {
                p.onExit().get(ms, java.util.concurrent.TimeUnit.MILLISECONDS);
                return true;
            } catch (java.util.concurrent.TimeoutException e) {
                return false;
            } catch (java.util.concurrent.ExecutionException e) {
                return !p.isAlive();
            }
        }
    }

    // ------------------------------------------------------------------------------------------- ctl

    @Command(name = "ctl", mixinStandardHelpOptions = true,
        description = {"Read or set control keys of a mounted file system.",
            "The keys are the files under MNT/.iomapfs.",
            "No KEY: list every key. KEY: print its value. KEY=VALUE: set it (owner only)."})
    static final class Ctl implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "MNT") Path mnt;
        @Parameters(index = "1..*", paramLabel = "KEY[=VALUE]") List<String> items = new ArrayList<>();

        @Override
        public Integer call() throws IOException {
            Path mp = abs(mnt);
            requireIomapfs(mp);
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
                    throw new Failure("unknown key '" + key + "' (iomapfs ctl " + mp + " lists them)", EXIT_BAD_INPUT);
                }
                if (eq < 0) {
                    out.print(read(f, key));
                    out.flush();
                } else {
                    String value = item.substring(eq + 1);
                    try {
                        Files.writeString(f, value + "\n");
                    } catch (AccessDeniedException e) {
                        throw new Failure("cannot set " + key + "=" + value + ": " + denied(f, key));
                    } catch (IOException e) {
                        // the write(2) failed with only an errno; the daemon keeps the engine's reason for this thread
                        String errno = reason(e);
                        throw new Failure("cannot set " + key + "=" + value + ": " + lastError(dir).orElse(errno),
                            errno.equals("Invalid argument") ? EXIT_BAD_INPUT : 1);
                    }
                }
            }
            return 0;
        }

        private static String read(Path f, String key) {
            try {
                return Files.readString(f);
            } catch (IOException e) {
                throw new Failure("cannot read " + key + ": " + reason(e));
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

    // ------------------------------------------------------------------------------------------- stats

    @Command(name = "stats", mixinStandardHelpOptions = true,
        description = {"Print the metrics of a mounted file system (MNT/.iomapfs/metrics): the engine's",
            "and the daemon's (iomapfs_hung_tasks_total: threads its hung-task watchdog found",
            "blocked; iomapfs_blocked_tasks: how many are blocked now). The first line says",
            "whether the daemon is hung; a mount that does not answer within 10 s is reported."})
    static final class Stats implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "MNT") Path mnt;
        @Option(names = "--raw", description = "print the Prometheus text as it is")
        boolean raw;

        @Override
        public Integer call() throws IOException {
            Path mp = abs(mnt);
            requireIomapfs(mp);
            Optional<DaemonState> state = DaemonState.find(mp);
            if (!raw) {
                System.out.println(state.map(st -> st.hung() ? "daemon: HUNG (pid " + st.pid() + "): " + st.summary()
                    : "daemon: running (pid " + st.pid() + ", hung-task timeout "
                    + (st.hungTimeoutSeconds() == 0 ? "off" : st.hungTimeoutSeconds() + " s") + ")")
                    .orElse("daemon: no state published for " + mp));
            }
            String text = readBounded(mp.resolve(".iomapfs").resolve("metrics"), 10_000);
            if (raw) {
                System.out.print(text);
                return 0;
            }
            List<String[]> rows = new ArrayList<>();
            int width = 0;
            for (String line : text.lines().toList()) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                int sp = line.lastIndexOf(' ');
                String[] r = sp < 0 ? new String[] {line, ""} : new String[] {line.substring(0, sp), line.substring(sp + 1)};
                rows.add(r);
                width = Math.max(width, r[0].length());
            }
            for (String[] r : rows) {
                System.out.printf("%-" + width + "s  %s%n", r[0], plain(r[1]));
            }
            return 0;
        }

        /** Reads a control file on a thread of its own, so a hung mount cannot hang the command. */
        private static String readBounded(Path f, long ms) throws IOException {
            java.util.concurrent.CompletableFuture<String> r = new java.util.concurrent.CompletableFuture<>();
            Thread t = new Thread(() -> {
                try {
                    r.complete(Files.readString(f, StandardCharsets.UTF_8));
                } catch (IOException | RuntimeException e) {
                    r.completeExceptionally(e);
                }
            }, "iomapfs-stats-read");
            t.setDaemon(true);
            t.start();
            try {
                return r.get(ms, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new Failure("the mount does not answer: reading " + f + " did not return within " + ms / 1000 + " s");
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw new Failure(e.getCause().toString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure("interrupted");
            }
        }
    }

    /** Prometheus writes every value as a double: whole numbers (bytes, folios, counts) print as integers. */
    static String plain(String v) {
        try {
            double d = Double.parseDouble(v);
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : v;
        } catch (NumberFormatException e) {
            return v;
        }
    }

    // ------------------------------------------------------------------------------------------- fsck

    @Command(name = "fsck", mixinStandardHelpOptions = true,
        description = {"Check an unmounted image.",
            "Exit status: 0 clean, 1 problems found, 2 not a usable image (missing, not an iomapfs image, its",
            "IMAGE.meta missing or unreadable)."})
    static final class Fsck implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "IMAGE") Path image;

        @Override
        public Integer call() {
            Path img = abs(image);
            Daemon.checkImage(img);
            requireIdle(img);
            List<String> problems;
            try {
                problems = Engine.load().fsck(img);
            } catch (FsException e) {
                throw engineFailure(e);
            }
            if (problems.isEmpty()) {
                System.out.println(img + ": clean");
                return 0;
            }
            problems.forEach(p -> System.out.println(img + ": " + p));
            return 1;
        }
    }
}
