package org.iomapfs.fuse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A running daemon's state as the CLI can read it without going through its mount (which may be hung): a small
 * key=value file in the temporary directory, named like the background mount's log after the mount point,
 * rewritten (atomically) by the daemon when it starts and whenever its hung-task watchdog's verdict changes,
 * and deleted when it exits. It also gives {@code umount --force} the daemon's pid (checked against the
 * process start time, so a reused pid is never signalled).
 */
public record DaemonState(long pid, long startMillis, Path mountPoint, Path image, boolean hung, int blocked,
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

    /** This process's start time, as {@link #startMillis} records it. */
    public static long startMillisOf(ProcessHandle p) {
        return p.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    }

    public void write(Path file) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("pid", Long.toString(pid));
        m.put("start", Long.toString(startMillis));
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
        return new DaemonState(Long.parseLong(m.get("pid")), Long.parseLong(m.get("start")), Path.of(m.get("mnt")),
            Path.of(m.get("image")), "1".equals(m.get("hung")), Integer.parseInt(m.getOrDefault("blocked", "0")),
            Long.parseLong(m.getOrDefault("hung_tasks_total", "0")), Long.parseLong(m.getOrDefault("hung_timeout", "0")),
            m.getOrDefault("summary", ""));
    }

    /** The daemon process, if it is still the one that wrote this state. */
    public Optional<ProcessHandle> process() {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
            .filter(p -> startMillis == 0 || startMillisOf(p) == startMillis);
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
