package org.iomapfs.tests.fstests;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mounts the way fstests does with FSTYP=fuse FUSE_SUBTYP=.iomapfs (common/rc: {@code _test_mount} runs
 * {@code mount -t $FSTYP$FUSE_SUBTYP $TEST_FS_MOUNT_OPTS $TEST_DEV $TEST_DIR}, {@code _test_unmount} runs
 * {@code umount $TEST_DEV}, {@code _check_if_dev_already_mounted} looks the mount up with
 * {@code findmnt -rncv -S $dev -o SOURCE,TARGET} and {@code _is_dev_mounted} with {@code -t $FSTYP}): real
 * mount(8) and umount(8) processes, with the helper installed into /sbin by {@code install-helper}.
 *
 * <p>mount(8) only looks for helpers in /sbin, so the test installs this checkout's helper there and puts back
 * whatever link was there before; a lock file keeps two runs of this test (other checkouts) from interleaving.
 */
class MountHelperTest {
    private static final Path HELPER_LINK = Path.of("/sbin/mount.fuse.iomapfs");
    private static final Path SHIM_FSTESTS = Path.of("..", "xfstests-shim", "fstests").toAbsolutePath().normalize();

    @TempDir
    static Path tmp;
    static FileChannel lockFile;
    static FileLock lock;
    static Path previousLink;
    static boolean installed;
    static Path cli;

    @BeforeAll
    static void installHelper() throws Exception {
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.out.println("MountHelperTest skipped: /dev/fuse is absent on this machine");
            Assumptions.abort("/dev/fuse is absent");
        }
        if (!"0".equals(run(10, Map.of(), "id", "-u").out.strip())) {
            System.out.println("MountHelperTest skipped: mount(8) with a helper needs root");
            Assumptions.abort("not root");
        }
        lockFile = FileChannel.open(Path.of("/tmp/iomapfs-mount-helper-test.lock"), StandardOpenOption.CREATE,
            StandardOpenOption.WRITE);
        lock = lockFile.lock();
        previousLink = Files.isSymbolicLink(HELPER_LINK) ? Files.readSymbolicLink(HELPER_LINK) : null;
        Proc inst = run(30, Map.of(), SHIM_FSTESTS.resolve("install-helper").toString());
        assertEquals(0, inst.rc, inst.out);
        installed = true;
        assertEquals(SHIM_FSTESTS.resolve("mount.fuse.iomapfs"), HELPER_LINK.toRealPath());
        // the helper runs the CLI from this test's class path instead of the checkout's launcher (no build here)
        cli = tmp.resolve("iomapfs-cli");
        Files.writeString(cli, "#!/bin/sh\nexec '" + Path.of(System.getProperty("java.home"), "bin", "java")
            + "' -cp '" + System.getProperty("java.class.path") + "' org.iomapfs.fuse.cli.Main \"$@\"\n");
        assertTrue(cli.toFile().setExecutable(true));
    }

    @AfterAll
    static void restoreHelper() throws IOException {
        try {
            if (installed) {
                Files.deleteIfExists(HELPER_LINK);
                if (previousLink != null) {
                    Files.createSymbolicLink(HELPER_LINK, previousLink);
                }
            }
        } finally {
            if (lock != null) {
                lock.release();
                lockFile.close();
            }
        }
    }

    @Test
    void mountByDeviceNameFindUnmountAndMountAgain() throws Exception {
        String dev = "iomapfs_junit_" + ProcessHandle.current().pid();
        Path img = tmp.resolve("images").resolve("test.img"); // does not exist yet: the helper formats it
        Path mnt = tmp.resolve("test");
        Files.createDirectories(mnt);
        Map<String, String> env = Map.of("IOMAPFS_CLI", cli.toString());
        byte[] data = new byte[(1 << 20) + 12345];
        new Random(42).nextBytes(data);
        try {
            Proc m = run(120, env, "mount", "-t", "fuse.iomapfs", dev, mnt.toString(), "-o", "source=" + img + ",size=256M");
            assertEquals(0, m.rc, "mount: " + m.out);
            assertEquals("", m.out, "the helper is quiet on success (fstests compares test output)");
            assertTrue(Files.isRegularFile(img), "the helper formatted the missing image");

            Proc found = run(10, Map.of(), "findmnt", "-rncv", "-S", dev, "-o", "SOURCE,TARGET,FSTYPE");
            assertEquals(0, found.rc, "findmnt -S " + dev + ": " + found.out);
            assertEquals(dev + " " + mnt + " fuse", found.out.strip());
            assertEquals(mnt.toString(), run(10, Map.of(), "findmnt", "-rncv", "-S", dev, "-t", "fuse", "-o", "TARGET").out.strip());
            assertTrue(Files.isDirectory(mnt.resolve(".iomapfs")), "it is iomapfs behind the plain fuse type");

            Path f = mnt.resolve("dir").resolve("file");
            Files.createDirectories(f.getParent());
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(data));
                ch.force(true);
            }

            Proc u = run(60, Map.of(), "umount", dev);
            assertEquals(0, u.rc, "umount " + dev + ": " + u.out);
            assertNotEquals(0, run(10, Map.of(), "findmnt", "-S", dev).rc, dev + " is still mounted");

            // at once, as fstests' _test_cycle_mount does: the old daemon may still be closing the image; with the
            // options that are in effect on every FUSE mount anyway (generic/129 mounts with nosuid)
            Proc m2 = run(120, env, "mount", "-t", "fuse.iomapfs", dev, mnt.toString(), "-o",
                "source=" + img + ",profile=stale-iomap,invalidate=off,nosuid,nodev,relatime");
            assertEquals(0, m2.rc, "second mount: " + m2.out);
            assertEquals("stale-iomap\n", Files.readString(mnt.resolve(".iomapfs/profile")), "-o profile= reached the daemon");
            assertEquals("40\n", Files.readString(mnt.resolve(".iomapfs/inject/write_delay_ms")));
            assertEquals("off\n", Files.readString(mnt.resolve(".iomapfs/invalidate")));
            assertArrayEquals(data, Files.readAllBytes(f), "the data came back from the image after the remount");
        } finally {
            if (run(10, Map.of(), "findmnt", "-S", dev).rc == 0) {
                Proc u = run(60, Map.of(), "umount", dev);
                if (u.rc != 0) {
                    System.out.println("MountHelperTest: umount " + dev + " failed (" + u.out.strip() + "); detaching");
                    run(60, Map.of(), "umount", "-l", dev);
                }
            }
            if (Files.exists(img)) {
                run(120, Map.of(), "flock", "-w", "100", img.toString(), "true"); // the daemon has closed the image
            }
        }
    }

    @Test
    void mountWithoutSourceFailsWithAMessage() throws Exception {
        String dev = "iomapfs_junit_nosrc_" + ProcessHandle.current().pid();
        Path mnt = tmp.resolve("nosrc");
        Files.createDirectories(mnt);
        Proc m = run(60, Map.of("IOMAPFS_CLI", cli.toString()), "mount", "-t", "fuse.iomapfs", dev, mnt.toString());
        assertEquals(32, m.rc, m.out);
        assertTrue(m.out.contains("source=IMAGE"), m.out);
        assertFalse(run(10, Map.of(), "findmnt", "-S", dev).rc == 0, "nothing was mounted");
    }

    record Proc(int rc, String out) { }

    static Proc run(long timeoutSeconds, Map<String, String> env, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(List.of(cmd))).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new IllegalStateException(String.join(" ", cmd) + " did not finish within " + timeoutSeconds + " s");
        }
        return new Proc(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
