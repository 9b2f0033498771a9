package org.iomapfs.fuse.cli;

import org.iomapfs.core.api.FsException;
import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.Engine;
import org.iomapfs.fuse.FuseMount;
import org.iomapfs.fuse.ImageLock;
import org.iomapfs.fuse.Log;
import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.Native;
import org.iomapfs.fuse.Unmount;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
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
        Main.Fsck.class})
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
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A user-facing failure with a one-line message. */
    static final class Failure extends RuntimeException {
        Failure(String message) { super(message); }
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
            throw new Failure("bad size '" + s + "' (examples: 4096, 512M, 2G)");
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
                throw new Failure(e.getMessage());
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
        @Option(names = "--debug", description = "libfuse debug output (-d) in the log")
        boolean debug;
        @Option(names = "--fsname", paramLabel = "NAME",
            description = "mount source shown in the mount table (default: the image path); fstests finds TEST_DEV by it")
        String fsName;
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
                default -> throw new Failure("bad --loop '" + loop + "' (pool or stock)");
            };
            if (cacheMb <= 0) {
                throw new Failure("--cache-mb must be positive");
            }
            if (fsName != null && (fsName.isBlank() || fsName.chars().anyMatch(Character::isWhitespace))) {
                throw new Failure("bad --fsname '" + fsName + "' (non-empty, no white space)");
            }
            Daemon.checkImage(img);
            Daemon.checkMountPoint(mp);
            if (!ImageLock.isFree(img)) {
                throw new Failure(Daemon.inUseMessage(img));
            }
            return foreground ? serve(img, mp, kind) : spawn(img, mp);
        }

        private int serve(Path img, Path mp, FuseMount.LoopKind kind) throws InterruptedException {
            boolean root = Native.libc().getuid() == 0;
            FuseMount.Options o = new FuseMount.Options(fsName != null ? fsName : img.toString(), threads, kind,
                maxWrite, root || userAllowOther(), debug, !noSubtype);
            Daemon d = new Daemon(new Daemon.Settings(img, mp, mode, bugs, injects, cacheMb << 20, o));
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
            for (String p : List.of(Engine.PROPERTY)) {
                if (System.getProperty(p) != null) {
                    cmd.add("-D" + p + "=" + System.getProperty(p));
                }
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(Main.class.getName());
            cmd.addAll(List.of("mount", img.toString(), mp.toString(), "--foreground",
                "--cache-mb", Long.toString(cacheMb), "--threads", Integer.toString(threads), "--loop", loop,
                "--max-write", Integer.toString(maxWrite)));
            if (mode != null) {
                cmd.addAll(List.of("--mode", mode));
            }
            bugs.forEach((k, v) -> cmd.addAll(List.of("--bug", k + "=" + v)));
            injects.forEach((k, v) -> cmd.addAll(List.of("--inject", k + "=" + v)));
            if (debug) {
                cmd.add("--debug");
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
                    throw new Failure(lastLine(logFile).orElse("the daemon exited with status " + p.exitValue()
                        + " (log: " + logFile + ")"));
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
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (!lines.get(i).isBlank()) {
                    return Optional.of(lines.get(i).strip());
                }
            }
            return Optional.empty();
        }
    }

    // ------------------------------------------------------------------------------------------- umount

    @Command(name = "umount", mixinStandardHelpOptions = true,
        description = "Unmount MNT and wait until its daemon has flushed, committed and closed the image.")
    static final class Umount implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "MNT") Path mnt;
        @Option(names = "--lazy", description = "detach even if files are open (the daemon exits when they are closed)")
        boolean lazy;

        @Override
        public Integer call() throws InterruptedException {
            Path mp = abs(mnt);
            Mounts.Mount m = requireIomapfs(mp);
            Path image = Path.of(m.source());
            String err = Unmount.unmount(mp, lazy);
            if (err != null) {
                throw new Failure("cannot unmount " + mp + ": " + err);
            }
            if (!Files.exists(image)) {
                return 0;
            }
            long deadline = System.currentTimeMillis() + UMOUNT_WAIT_MS;
            while (!ImageLock.isFree(image)) {
                if (System.currentTimeMillis() > deadline) {
                    throw new Failure("unmounted " + mp + ", but its daemon still holds " + image + " after "
                        + UMOUNT_WAIT_MS / 1000 + " s");
                }
                Thread.sleep(20); // polling the image lock the daemon drops once the engine is closed
            }
            return 0;
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
                    out.println(key + ": " + (lines.size() == 1 ? lines.get(0)
                        : "(" + lines.size() + " lines; iomapfs ctl " + mp + " " + key + ")"));
                }
                return 0;
            }
            for (String item : items) {
                int eq = item.indexOf('=');
                String key = eq < 0 ? item : item.substring(0, eq);
                Path f = dir.resolve(key).normalize();
                if (key.isEmpty() || !f.startsWith(dir) || !Files.isRegularFile(f)) {
                    throw new Failure("unknown key '" + key + "'");
                }
                if (eq < 0) {
                    out.print(read(f, key));
                    out.flush();
                } else {
                    String value = item.substring(eq + 1);
                    try {
                        Files.writeString(f, value + "\n");
                    } catch (IOException e) {
                        throw new Failure("cannot set " + key + "=" + value + ": " + reason(e));
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
        description = "Print the engine's metrics of a mounted file system (MNT/.iomapfs/metrics).")
    static final class Stats implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "MNT") Path mnt;
        @Option(names = "--raw", description = "print the Prometheus text as it is")
        boolean raw;

        @Override
        public Integer call() throws IOException {
            Path mp = abs(mnt);
            requireIomapfs(mp);
            String text = Files.readString(mp.resolve(".iomapfs").resolve("metrics"), StandardCharsets.UTF_8);
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
        description = "Check an unmounted image; exit status 1 if it has problems.")
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
                throw new Failure(e.getMessage());
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
