package org.iomapfs.tests.mount;

import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.Unmount;
import org.iomapfs.fuse.cli.Main;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A fresh image mounted by the {@code iomapfs} CLI (daemon in its own JVM) for tests that drive the mount from
 * other processes. {@link #workload} starts a shim workload as a separate JVM, so nothing the test process maps
 * or caches stands between the workload and the daemon.
 */
public final class LiveMount implements AutoCloseable {
    public final Path image;
    public final Path mnt;

    private LiveMount(Path image, Path mnt) {
        this.image = image;
        this.mnt = mnt;
    }

    /** Skips the calling test, with the reason printed, where /dev/fuse is absent. */
    public static void assumeFuse(String who) {
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.out.println(who + " skipped: /dev/fuse is absent on this machine");
            Assumptions.abort("/dev/fuse is absent");
        }
    }

    /** mkfs DIR/img (sizeArg as for --size), then mount it on DIR/mnt with the extra mount options. */
    public static LiveMount start(Path dir, String sizeArg, String... mountOptions) {
        Path img = dir.resolve("img");
        Path mnt = dir.resolve("mnt");
        try {
            Files.createDirectories(mnt);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        cliOk("mkfs", img.toString(), "--size", sizeArg);
        List<String> args = new ArrayList<>(List.of("mount", img.toString(), mnt.toString()));
        args.addAll(List.of(mountOptions));
        cliOk(args.toArray(String[]::new));
        return new LiveMount(img, mnt);
    }

    /** Runs the CLI in this JVM; throws with its error output unless it exits 0. Returns its output. */
    public static String cliOk(String... args) {
        StringWriter out = new StringWriter();
        int rc = Main.run(new PrintWriter(out, true), args);
        if (rc != 0) {
            throw new IllegalStateException("iomapfs " + String.join(" ", args) + " exited " + rc + ": " + out);
        }
        return out.toString();
    }

    /** The text of control KEY (under /.iomapfs), without its trailing newline. */
    public String ctl(String key) throws IOException {
        return Files.readString(mnt.resolve(".iomapfs").resolve(key)).strip();
    }

    /** The value of an unlabelled meter in the mount's metrics, as a whole number; fails if it is missing. */
    public long metric(String name) throws IOException {
        String all = ctl("metrics");
        for (String line : all.split("\n")) {
            if (line.startsWith(name + " ")) {
                return (long) Double.parseDouble(line.substring(name.length() + 1).strip());
            }
        }
        throw new AssertionError(name + " is missing from the metrics:\n" + all);
    }

    public void setCtl(String key, String value) throws IOException {
        Files.writeString(mnt.resolve(".iomapfs").resolve(key), value);
    }

    /** echo 3 > /proc/sys/vm/drop_caches: the next read of a clean page goes to the daemon. */
    public static void dropKernelCaches() throws IOException {
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
    }

    /** A finished process: exit code and its merged output. */
    public record Proc(int rc, String out) { }

    /**
     * Runs {@code mainClass} (from this test class path, e.g. a shim workload) in a new JVM and waits up to
     * {@code timeoutSeconds}; the output is echoed to this test's output as it comes.
     */
    public static Proc workload(long timeoutSeconds, String mainClass, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder out = new StringBuilder();
        Thread pump = new Thread(() -> {
            try (var r = p.inputReader(StandardCharsets.UTF_8)) {
                String line;
                while ((line = r.readLine()) != null) {
                    System.out.println("  | " + line);
                    synchronized (out) {
                        out.append(line).append('\n');
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        pump.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            pump.join();
            throw new IllegalStateException(mainClass + " did not finish within " + timeoutSeconds + " s:\n" + out);
        }
        pump.join();
        synchronized (out) {
            return new Proc(p.exitValue(), out.toString());
        }
    }

    /** Unmounts (flushing everything); a remount with {@link #remount} sees exactly what the daemon stored. */
    public void unmount() {
        if (Mounts.at(mnt).isPresent()) {
            cliOk("umount", mnt.toString());
        }
    }

    public void remount(String... mountOptions) {
        unmount();
        List<String> args = new ArrayList<>(List.of("mount", image.toString(), mnt.toString()));
        args.addAll(List.of(mountOptions));
        cliOk(args.toArray(String[]::new));
    }

    /** The daemon serving this mount: the JVM started with {@code --foreground} and this mount point. */
    public Optional<ProcessHandle> daemon() {
        return daemonServing(mnt);
    }

    /**
     * The daemon JVM started with {@code --foreground} and this mount point among its arguments, read from
     * /proc/PID/cmdline: ProcessHandle.Info.arguments() is empty for a command line longer than a page (the JDK
     * reads one page of it), which a daemon started from a test's long class path has.
     */
    public static Optional<ProcessHandle> daemonServing(Path mountPoint) {
        String m = mountPoint.toString();
        return ProcessHandle.allProcesses().filter(p -> {
            try {
                List<String> a = List.of(Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).split("\0"));
                return a.contains(m) && a.contains("--foreground");
            } catch (IOException | UncheckedIOException e) {
                return false; // gone, or not ours to read
            }
        }).findFirst();
    }

    /**
     * Recovers from a hung daemon the way an administrator would: dumps its threads (jstack), aborts the FUSE
     * connection through fusectl (mounted first if it is not, as on a fresh machine) so that every blocked
     * request fails with ENOTCONN, detaches the mount and kills the daemon. Returns the thread dump.
     */
    public String abort() {
        Optional<ProcessHandle> d = daemon();
        String dump = d.map(p -> run(30, Path.of(System.getProperty("java.home"), "bin", "jstack").toString(),
                Long.toString(p.pid()))).orElse("(no daemon process found for " + mnt + ")");
        Optional<Mounts.Mount> m = Mounts.at(mnt);
        if (m.isPresent()) {
            Path fusectl = Path.of("/sys/fs/fuse/connections");
            if (Mounts.at(fusectl).isEmpty()) {
                run(30, "mount", "-t", "fusectl", "none", fusectl.toString());
            }
            Unmount.abortConnection(m.get().minor());
            run(30, "umount", "-l", mnt.toString());
        }
        d.ifPresent(p -> {
            p.destroyForcibly();
            try {
                p.onExit().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.out.println("LiveMount: daemon " + p.pid() + " did not exit after SIGKILL: " + e);
            }
        });
        return dump;
    }

    /** Runs a command, waiting up to {@code timeoutSeconds}; returns its merged output (what it printed by then). */
    static String run(long timeoutSeconds, String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            java.util.concurrent.CompletableFuture<String> out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return "";
                }
            });
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return String.join(" ", cmd) + ": did not finish within " + timeoutSeconds + " s";
            }
            return out.get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (Exception e) {
            return String.join(" ", cmd) + ": " + e;
        }
    }

    @Override
    public void close() {
        if (Mounts.at(mnt).isPresent()) {
            StringWriter out = new StringWriter();
            if (Main.run(new PrintWriter(out, true), "umount", mnt.toString()) != 0) {
                System.out.println("LiveMount: umount failed (" + out.toString().strip() + "); detaching lazily");
                Main.run(new PrintWriter(out, true), "umount", "--lazy", mnt.toString());
            }
        }
    }
}
