package org.iomapfs.tests.mount;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The generic mount options through a real mount (fstests generic/003, 120, 452): noatime leaves atime on reads
 * and listings, strictatime's update shows in the next stat even when the read was served by the kernel, a read-only mount refuses changes with EROFS and leaves the image's bytes, and the kernel's own
 * remount read-only (which sends the daemon nothing) reaches the daemon, after it has kept what was written.
 */
class MountOptionsMountTest {
    @TempDir
    Path tmp;

    private static FileTime atime(Path p) throws IOException {
        return Files.readAttributes(p, BasicFileAttributes.class).lastAccessTime();
    }

    private static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(p)) {
            md.update(in.readAllBytes());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void assertErofs(String what, Executable call) {
        FileSystemException e = assertThrows(FileSystemException.class, call::run, what);
        assertTrue(String.valueOf(e.getReason()).contains("Read-only file system"), what + ": " + e);
    }

    interface Executable {
        void run() throws IOException;
    }

    @Test
    void noatimeMountLeavesAtimeOnReadsAndListings() throws Exception {
        LiveMount.assumeFuse("MountOptionsMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M", "--atime", "noatime")) {
            assertEquals("rw,noatime", m.ctl("mount"));
            Path d = Files.createDirectory(m.mnt.resolve("d"));
            Path f = Files.writeString(d.resolve("f"), "data");
            FileTime file = atime(f);
            FileTime dir = atime(d);
            Thread.sleep(20); // clock granularity: an update would show as a later time
            LiveMount.dropKernelCaches(); // the read goes to the daemon, not the kernel's page cache
            assertEquals("data", Files.readString(f));
            try (Stream<Path> s = Files.list(d)) {
                assertEquals(1, s.count());
            }
            assertEquals(file, atime(f), "noatime: reading the file left its atime");
            assertEquals(dir, atime(d), "noatime: listing the directory left its atime");
        }
    }

    @Test
    void strictatimeStatRightAfterACachedReadShowsTheNewAtime() throws Exception {
        LiveMount.assumeFuse("MountOptionsMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M", "--atime", "strictatime")) {
            Path f = Files.writeString(m.mnt.resolve("f"), "data");
            assertEquals("data", Files.readString(f)); // now in the kernel's page cache, kept across opens
            FileTime first = atime(f); // and the attributes in its attribute cache, for a second
            Thread.sleep(20); // clock granularity: the second read's atime must be a later time
            assertEquals("data", Files.readString(f)); // served by the page cache: only the OPEN reaches the daemon
            assertTrue(atime(f).compareTo(first) > 0,
                "the open's atime update reached stat within the attribute timeout: " + first + " -> " + atime(f));
        }
    }

    @Test
    void readOnlyMountRefusesChangesWithErofsAndLeavesTheImageBytes() throws Exception {
        LiveMount.assumeFuse("MountOptionsMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            Files.writeString(m.mnt.resolve("f"), "kept");
            m.unmount();
            Path meta = m.image.resolveSibling(m.image.getFileName() + ".meta");
            String image = sha256(m.image);
            String metadata = sha256(meta);
            m.remount("--read-only", "--atime", "strictatime");
            assertEquals("ro,strictatime", m.ctl("mount"));
            Path f = m.mnt.resolve("f");
            assertEquals("kept", Files.readString(f));
            try (Stream<Path> s = Files.list(m.mnt)) {
                assertEquals(1, s.filter(p -> p.getFileName().toString().equals("f")).count());
            }
            assertErofs("write", () -> Files.writeString(f, "changed"));
            assertErofs("create", () -> Files.writeString(m.mnt.resolve("g"), "new"));
            assertErofs("mkdir", () -> Files.createDirectory(m.mnt.resolve("d")));
            assertErofs("unlink", () -> Files.delete(f));
            m.unmount();
            assertEquals(image, sha256(m.image), "the read-only mount left the image's bytes");
            assertEquals(metadata, sha256(meta), "the read-only mount left the metadata file's bytes");
        }
    }

    @Test
    void kernelRemountReadOnlyReachesTheDaemonAfterItKeptTheData() throws Exception {
        LiveMount.assumeFuse("MountOptionsMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            Path f = m.mnt.resolve("f");
            Files.writeString(f, "written before the remount");
            // the kernel's remount alone (-i: no helper), as fs/fuse/inode.c fuse_reconfigure does it
            String out = LiveMount.run(30, "mount", "-i", "-o", "remount,ro", m.mnt.toString());
            assertTrue(out.isBlank(), "mount -o remount,ro: " + out);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!m.ctl("mount").startsWith("ro,") && System.nanoTime() < deadline) {
                Thread.sleep(10); // the daemon follows the mount table asynchronously: wait for it, bounded
            }
            assertEquals("ro,relatime", m.ctl("mount"), "the daemon followed the remount");
            assertErofs("write after the remount", () -> Files.writeString(f, "changed"));
            m.remount();
            assertEquals("written before the remount", Files.readString(f), "the data written before it was kept");
        }
    }
}
