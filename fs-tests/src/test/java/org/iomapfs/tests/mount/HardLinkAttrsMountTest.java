package org.iomapfs.tests.mount;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static org.junit.jupiter.api.Assertions.*;

/**
 * stat(2) of a file's first name shows the link count and ctime of each link(2) and unlink(2) of its other names
 * at once, within the attribute timeout (fstests generic/002 and 236). libfuse 2.9 makes each name its own
 * kernel inode; the daemon invalidates the first name's cached attributes after each change (HardLinkAttrs).
 */
class HardLinkAttrsMountTest {
    @TempDir
    Path tmp;

    private static int nlink(Path p) throws Exception {
        return (Integer) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
    }

    private static long ctimeNs(Path p) throws Exception {
        return ((FileTime) Files.getAttribute(p, "unix:ctime", LinkOption.NOFOLLOW_LINKS)).to(java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    @Test
    void firstNameShowsLinkCountAndCtimeAtOnceAfterLinkAndUnlink() throws Exception {
        LiveMount.assumeFuse("HardLinkAttrsMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            Path first = m.mnt.resolve("tmp.1");
            Files.createFile(first);
            assertEquals(1, nlink(first)); // cached now, for the attribute timeout
            long ctime = ctimeNs(first);
            for (int l = 2; l <= 8; l++) {
                Files.createLink(m.mnt.resolve("tmp." + l), first);
                assertEquals(l, nlink(first), "after creating link #" + l);
            }
            assertTrue(ctimeNs(first) > ctime, "link(2) changed the first name's ctime");
            for (int l = 8; l >= 2; l--) {
                Files.delete(m.mnt.resolve("tmp." + l));
                assertEquals(l - 1, nlink(first), "after removing link #" + l);
            }
            Files.createLink(m.mnt.resolve("other"), first);
            Files.writeString(m.mnt.resolve("over"), "x");
            Files.move(m.mnt.resolve("over"), m.mnt.resolve("other"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertEquals(1, nlink(first), "a rename over the other name dropped a link");
        }
    }
}
