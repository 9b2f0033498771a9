package org.iomapfs.shim.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The control files of a mounted iomapfs ({@code MNT/.iomapfs/KEY}), reached through the file system only. */
public final class Control {
    public static final String DIR = ".iomapfs";
    private static final Pattern BUG_LABEL = Pattern.compile("bug=\"([^\"]*)\"");

    private final Path dir;

    private Control(Path dir) {
        this.dir = dir;
    }

    /** The control directory of the mount {@code mnt}. */
    public static Control of(Path mnt) throws IOException {
        Path d = mnt.resolve(DIR);
        if (!Files.isDirectory(d)) {
            throw new IOException(mnt + " is not an iomapfs mount (no " + DIR + "/)");
        }
        return new Control(d);
    }

    /** The control directory of the iomapfs mount holding {@code file}, if any (walks up from its directory). */
    public static Optional<Control> near(Path file) {
        for (Path p = file.toAbsolutePath().normalize().getParent(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve(DIR))) {
                return Optional.of(new Control(p.resolve(DIR)));
            }
        }
        return Optional.empty();
    }

    public boolean has(String key) {
        return Files.exists(dir.resolve(key));
    }

    /** The value of KEY without its trailing newline. */
    public String get(String key) throws IOException {
        try {
            return Files.readString(dir.resolve(key)).strip();
        } catch (NoSuchFileException e) {
            throw new IOException("the mount has no control " + DIR + "/" + key, e);
        }
    }

    /** Writes KEY; a bad value is refused by the mount with EINVAL, an unknown key with ENOENT. */
    public void set(String key, String value) throws IOException {
        try {
            Files.writeString(dir.resolve(key), value);
        } catch (NoSuchFileException e) {
            throw new IOException("the mount has no control " + DIR + "/" + key, e);
        } catch (IOException e) {
            throw new IOException("the mount refused " + DIR + "/" + key + "=" + value + " (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Every sample in {@code metrics} (Prometheus text) by its name with labels, e.g.
     * {@code iomapfs_bug_fired_total{bug="stale-iomap"}}; comments and unparsable lines are skipped.
     */
    public Map<String, Double> samples() throws IOException {
        return samples(get("metrics"));
    }

    static Map<String, Double> samples(String metrics) {
        Map<String, Double> out = new TreeMap<>();
        for (String line : metrics.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int sp = line.lastIndexOf(' ');
            if (sp <= 0) {
                continue;
            }
            try {
                out.put(line.substring(0, sp).strip(), Double.parseDouble(line.substring(sp + 1).trim()));
            } catch (NumberFormatException e) {
                // not a sample line
            }
        }
        return out;
    }

    /**
     * The bug-fired counters from {@code metrics} (Prometheus text), by bug name: every sample whose name starts
     * with {@code iomapfs_bug_fired} counts, under its {@code bug} label ("all" when it has none).
     */
    public Map<String, Long> bugFired() throws IOException {
        return bugFired(samples());
    }

    public static Map<String, Long> bugFired(Map<String, Double> samples) {
        Map<String, Long> out = new TreeMap<>();
        for (Map.Entry<String, Double> e : samples.entrySet()) {
            if (e.getKey().startsWith("iomapfs_bug_fired")) {
                Matcher m = BUG_LABEL.matcher(e.getKey());
                out.merge(m.find() ? m.group(1) : "all", e.getValue().longValue(), Long::sum);
            }
        }
        return out;
    }
}
