package org.iomapfs.fuse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A running daemon's state as the CLI can read it without going through its mount (which may be hung): a small
 * key=value file in the temporary directory, named like the background mount's log after the mount point,
 * rewritten (atomically) by the daemon when it starts and whenever its hung-task watchdog's verdict changes,
 * and deleted when it exits. It also gives {@code umount --force} the daemon's pid (checked against the
 * process start time, so a reused pid is never signalled). The start time is /proc/PID/stat's {@code starttime}, clock
 * ticks since boot: the JDK's {@code ProcessHandle.Info.startInstant} adds the boot time from /proc/stat's
 * {@code btime}, which each JVM reads once and which moves when the wall clock is stepped, so a daemon and a CLI
 * started on either side of a step disagreed by a second and the CLI no longer found its daemon.
 */
public record DaemonState(long pid, long startTicks, Path mountPoint, Path image, boolean hung, int blocked,
                          long hungTasksTotal, long hungTimeoutSeconds, String summary) {

    /** The state file of a mount point owned by {@code uid}. */
    public static Path file(Path mountPoint, int uid) {
        return dir().resolve("iomapfs-" + uid + "-" + key(mountPoint) + ".state");
    }

    private static Path dir() {
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    private static String key(Path mountPoint) {
        return Integer.toHexString(mountPoint.toAbsolutePath().normalize().toString().hashCode());
    }

    /** The start time of process {@code pid}, as {@link #startTicks} records it; 0 if it cannot be read. */
    public static long startTicksOf(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
            // pid (comm) state ppid ...: comm may hold spaces and parentheses, so count from the last ')';
            // starttime is field 22, the 20th after it
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[19]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    public void write(Path file) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("pid", Long.toString(pid));
        m.put("start_ticks", Long.toString(startTicks));
        m.put("mnt", mountPoint.toString());
        m.put("image", image.toString());
        m.put("hung", hung ? "1" : "0");
        m.put("blocked", Integer.toString(blocked));
        m.put("hung_tasks_total", Long.toString(hungTasksTotal));
        m.put("hung_timeout", Long.toString(hungTimeoutSeconds));
        m.put("summary", summary.replace('\n', ' '));
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, b.toString(), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the daemon state file " + file, e);
        }
    }

    static DaemonState parse(String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return new DaemonState(Long.parseLong(m.get("pid")), Long.parseLong(m.getOrDefault("start_ticks", "0")), Path.of(m.get("mnt")),
            Path.of(m.get("image")), "1".equals(m.get("hung")), Integer.parseInt(m.getOrDefault("blocked", "0")),
            Long.parseLong(m.getOrDefault("hung_tasks_total", "0")), Long.parseLong(m.getOrDefault("hung_timeout", "0")),
            m.getOrDefault("summary", ""));
    }

    /** The daemon process, if it is still the one that wrote this state. */
    public Optional<ProcessHandle> process() {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
            .filter(p -> startTicks == 0 || startTicksOf(p.pid()) == startTicks);
    }

    /** The state of the live daemon serving {@code mountPoint}, whoever started it. */
    public static Optional<DaemonState> find(Path mountPoint) {
        Path mnt = mountPoint.toAbsolutePath().normalize();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir(), "iomapfs-*-" + key(mnt) + ".state")) {
            for (Path f : ds) {
                try {
                    DaemonState s = parse(Files.readString(f, StandardCharsets.UTF_8));
                    if (s.mountPoint().equals(mnt) && s.process().isPresent()) {
                        return Optional.of(s);
                    }
                } catch (IOException | RuntimeException e) {
                    // a half-written or foreign file: not this daemon's
                }
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }
}
