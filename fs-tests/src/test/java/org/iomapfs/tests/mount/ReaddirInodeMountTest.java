package org.iomapfs.tests.mount;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * readdir(3) on the mount gives each entry the inode number and type stat(2) gives it (fstests generic/637). `ls -i`
 * prints readdir's d_ino without calling stat; without a stat handed to libfuse 2.9's filler it was 4294967295
 * (FUSE_UNKNOWN_INO) for every entry.
 */
class ReaddirInodeMountTest {
    @TempDir
    Path tmp;

    @Test
    void readdirInodeNumbersAreTheOnesStatGives() throws Exception {
        LiveMount.assumeFuse("ReaddirInodeMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            Path dir = Files.createDirectory(m.mnt.resolve("d"));
            Map<String, Long> byStat = new HashMap<>();
            for (int i = 0; i < 20; i++) {
                Path p = i % 5 == 0 ? Files.createDirectory(dir.resolve("sub" + i)) : Files.createFile(dir.resolve("f" + i));
                byStat.put(p.getFileName().toString(), (Long) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS));
            }
            Process ls = new ProcessBuilder("ls", "-i1", "-f", dir.toString()).redirectErrorStream(true).start();
            String out = new String(ls.getInputStream().readAllBytes());
            assertEquals(0, ls.waitFor(), out);
            Map<String, Long> byReaddir = new HashMap<>();
            for (String line : out.strip().split("\n")) {
                String[] f = line.strip().split("\\s+", 2);
                if (!f[1].equals(".") && !f[1].equals("..")) {
                    byReaddir.put(f[1], Long.parseLong(f[0]));
                }
            }
            assertEquals(byStat, byReaddir);
        }
    }
}
