package org.iomapfs.tests.mount;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.*;

/**
 * FUSE_HANDLE_KILLPRIV_V2 through the mount: the kernel takes the flag, so writes stop asking the daemon for
 * security.capability once a file is known to have none (S_NOSEC), and the daemon clears setuid/setgid where the
 * kernel now leaves it to the server. The callers without CAP_FSETID are root with the capability dropped from
 * the bounding set ({@code setpriv --bounding-set -fsetid}), which the kernel sees as unprivileged for these rules
 * while the mount (no allow_other) still lets them in. Modes are read right after each change: the kernel must
 * not show the mode it cached before.
 */
class KillPrivMountTest {
    @TempDir
    Path tmp;

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode") & 07777;
    }

    /** Runs {@code sh -c script} without CAP_FSETID; fails the test if it fails. */
    private static void withoutFsetid(String script) {
        String out = LiveMount.run(30, "setpriv", "--bounding-set", "-fsetid", "sh", "-c", script + " && echo OK");
        assertTrue(out.strip().endsWith("OK"), script + ": " + out);
    }

    private static void sh(String script) {
        String out = LiveMount.run(30, "sh", "-c", script + " && echo OK");
        assertTrue(out.strip().endsWith("OK"), script + ": " + out);
    }

    private static void assumeRootWithSetpriv() {
        Assumptions.assumeTrue("0".equals(LiveMount.run(10, "id", "-u").strip()), "needs root");
        Assumptions.assumeTrue(LiveMount.run(10, "setpriv", "--version").contains("setpriv"), "needs setpriv (util-linux)");
    }

    @Test
    void writesAfterTheFirstDoNotAskTheDaemonForSecurityCapability() throws Exception {
        LiveMount.assumeFuse("KillPrivMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            assertEquals(1, m.metric("iomapfs_fuse_killpriv_v2"), "the kernel took FUSE_HANDLE_KILLPRIV_V2");
            Path f = m.mnt.resolve("f");
            Files.write(f, new byte[4096]);
            long before = m.metric("iomapfs_fuse_getxattr_total");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                for (int i = 0; i < 64; i++) {
                    ch.write(ByteBuffer.wrap(new byte[4096]), 4096L * i);
                }
            }
            long asked = m.metric("iomapfs_fuse_getxattr_total") - before;
            // one query at most (the first write after the attributes were refreshed); without the flag, 64
            assertTrue(asked <= 1, asked + " GETXATTR requests for 64 writes");
        }
    }

    @Test
    void writesTruncatesAndFallocatesWithoutCapFsetidClearSetuidAndSetgid() throws Exception {
        LiveMount.assumeFuse("KillPrivMountTest");
        assumeRootWithSetpriv();
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            Path f = m.mnt.resolve("s");
            Files.writeString(f, "data");
            String[][] cases = {
                {"buffered write", "printf x >> " + f},
                {"O_DIRECT write", "dd if=/dev/zero of=" + f + " bs=4k count=1 oflag=direct conv=notrunc status=none"},
                {"truncate", "truncate -s 1 " + f},
                {"fallocate", "fallocate -l 65536 " + f},
            };
            for (String[] c : cases) {
                Files.setAttribute(f, "unix:mode", 06775);
                withoutFsetid(c[1]);
                assertEquals(0775, mode(f), c[0] + " by a caller without CAP_FSETID clears both bits (group may execute)");
            }
            // the group of the file cannot execute, and the caller is in that group: setgid stays
            Files.setAttribute(f, "unix:mode", 02764);
            withoutFsetid("printf x >> " + f);
            assertEquals(02764, mode(f), "setgid of a file its group cannot execute stays for a caller in the group");
            // root with CAP_FSETID keeps both
            Files.setAttribute(f, "unix:mode", 06775);
            sh("printf x >> " + f + " && truncate -s 2 " + f);
            assertEquals(06775, mode(f), "a write and a truncate with CAP_FSETID leave the bits");
            // chown clears setuid whoever does it (chown_common)
            sh("chown 65534 " + f);
            assertEquals(0775, mode(f), "chown clears setuid and the executable setgid");
            assertEquals(65534, (Integer) Files.getAttribute(f, "unix:uid"));
        }
    }
}
