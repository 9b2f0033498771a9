package org.iomapfs.fuse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads /proc/self/mountinfo (proc(5)): which mounts exist, their type, source, device number and whether the
 * superblock is read-only (the super options' ro: SB_RDONLY, what a remount read-only of the file system sets).
 */
public final class Mounts {
    /** The fstype libfuse 2.9 reports for {@code -o subtype=iomapfs}. */
    public static final String FSTYPE = "fuse.iomapfs";

    public record Mount(String mountPoint, String fsType, String source, int major, int minor, boolean readOnly) {
        public boolean isIomapfs() { return FSTYPE.equals(fsType); }
    }

    private Mounts() { }

    public static List<Mount> all() {
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/mountinfo", e);
        }
        List<Mount> out = new ArrayList<>();
        for (String line : lines) {
            // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 5 || dash < 0 || dash + 2 >= f.length) {
                continue;
            }
            String[] dev = f[2].split(":");
            boolean ro = dash + 3 < f.length && List.of(f[dash + 3].split(",")).contains("ro");
            out.add(new Mount(unescape(f[4]), f[dash + 1], unescape(f[dash + 2]),
                Integer.parseInt(dev[0]), Integer.parseInt(dev[1]), ro));
        }
        return out;
    }

    /** The topmost mount at exactly this path, if any. */
    public static Optional<Mount> at(Path mountPoint) {
        String p = mountPoint.toAbsolutePath().normalize().toString();
        Mount found = null;
        for (Mount m : all()) {
            if (m.mountPoint().equals(p)) {
                found = m; // later lines are mounted on top of earlier ones
            }
        }
        return Optional.ofNullable(found);
    }

    /** An iomapfs mount whose source is this image, if any. */
    public static Optional<Mount> ofImage(Path image) {
        String p = image.toAbsolutePath().normalize().toString();
        return all().stream().filter(m -> m.isIomapfs() && m.source().equals(p)).findFirst();
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()
                && s.substring(i + 1, i + 4).chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
