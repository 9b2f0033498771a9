package org.iomapfs.tests.mount;

import com.sun.nio.file.ExtendedOpenOption;
import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.ImageLock;
import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.cli.Main;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real mount: a fresh image in a temporary directory, mounted by the {@code iomapfs} CLI whose daemon runs
 * as its own JVM; every check here runs in this (another) process and compares contents. To see what the
 * daemon holds rather than the kernel's page cache, reads follow a kernel cache drop, an O_DIRECT read or a
 * remount. Every file written is remembered in {@link #expected} and compared again after the remount.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MountTest {
    @TempDir
    static Path tmp;
    static Path image;
    static Path mnt;
    /** Every file this class wrote, relative to the mount, with the bytes it must hold. */
    static final Map<String, byte[]> expected = new TreeMap<>();

    @BeforeAll
    static void mount() throws Exception {
        if (!Files.exists(Path.of("/dev/fuse"))) {
            System.out.println("MountTest skipped: /dev/fuse is absent on this machine");
            Assumptions.abort("/dev/fuse is absent");
        }
        // another uid (setpriv --reuid=65534) must be able to reach the mount through the temporary directory
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        image = tmp.resolve("img");
        mnt = tmp.resolve("mnt");
        Files.createDirectories(mnt);
        assertEquals(0, cli("mkfs", image.toString(), "--size", "512M"));
        assertEquals(0, cli("mount", image.toString(), mnt.toString(), "--cache-mb", "64"));
        assertTrue(Mounts.at(mnt).orElseThrow().isIomapfs());
    }

    @AfterAll
    static void unmount() {
        if (mnt != null && Mounts.at(mnt).isPresent() && cli("umount", mnt.toString()) != 0) {
            System.out.println("MountTest: " + lastErr + "; detaching lazily");
            cli("umount", "--lazy", mnt.toString());
        }
    }

    static final StringWriter lastErr = new StringWriter();

    static int cli(String... args) {
        lastErr.getBuffer().setLength(0);
        return Main.run(new PrintWriter(lastErr, true), args);
    }

    static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** echo 3 > /proc/sys/vm/drop_caches: the next read of a clean page goes to the daemon. */
    static void dropKernelCaches() throws IOException {
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
    }

    static void assertFile(String rel, byte[] want) throws IOException {
        byte[] got = Files.readAllBytes(mnt.resolve(rel));
        assertEquals(want.length, got.length, rel + ": size");
        assertArrayEquals(want, got, rel + ": contents");
    }

    static ProcResult sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        return new ProcResult(p.exitValue(), out);
    }

    record ProcResult(int rc, String out) { }

    /** Formats a 64 MiB {@code image} and mounts it on a new directory {@code dir} of the temporary directory. */
    static Path freshMount(Path image, String dir) throws IOException {
        Path m = tmp.resolve(dir);
        Files.createDirectories(m);
        assertEquals(0, cli("mkfs", image.toString(), "--size", "64M"));
        assertEquals(0, cli("mount", image.toString(), m.toString()));
        return m;
    }

    /** The daemon process serving {@code mountPoint} (the CLI runs it with --foreground). */
    static ProcessHandle daemonOf(Path mountPoint) {
        return LiveMount.daemonServing(mountPoint).orElseThrow();
    }

    /** munmap now rather than at some GC: a live mapping keeps the mount busy for the final umount. */
    static void unmap(MappedByteBuffer m) throws ReflectiveOperationException {
        java.lang.reflect.Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
        f.setAccessible(true);
        Object unsafe = f.get(null);
        unsafe.getClass().getMethod("invokeCleaner", ByteBuffer.class).invoke(unsafe, m);
    }

    @Test
    @Order(1)
    void treesCreateRenameUnlinkReaddir() throws Exception {
        Path a = mnt.resolve("tree/a/b/c");
        Files.createDirectories(a);
        for (int i = 0; i < 20; i++) {
            Files.write(mnt.resolve("tree/a/f" + i), ("file " + i + "\n").getBytes(StandardCharsets.UTF_8));
        }
        Files.move(mnt.resolve("tree/a/f3"), mnt.resolve("tree/a/b/c/moved"));
        Files.move(mnt.resolve("tree/a/b"), mnt.resolve("tree/b2"));
        for (int i = 10; i < 20; i++) {
            Files.delete(mnt.resolve("tree/a/f" + i));
        }
        Files.createLink(mnt.resolve("tree/hard"), mnt.resolve("tree/a/f1"));
        Files.createSymbolicLink(mnt.resolve("tree/sym"), Path.of("a/f2"));
        assertThrows(java.nio.file.DirectoryNotEmptyException.class, () -> Files.delete(mnt.resolve("tree/b2")));

        try (Stream<Path> s = Files.list(mnt.resolve("tree/a"))) {
            assertEquals(List.of("f0", "f1", "f2", "f4", "f5", "f6", "f7", "f8", "f9"),
                s.map(p -> p.getFileName().toString()).sorted().toList());
        }
        try (Stream<Path> s = Files.walk(mnt.resolve("tree"))) {
            assertEquals(List.of("tree", "tree/a", "tree/a/f0", "tree/a/f1", "tree/a/f2", "tree/a/f4", "tree/a/f5",
                    "tree/a/f6", "tree/a/f7", "tree/a/f8", "tree/a/f9", "tree/b2", "tree/b2/c", "tree/b2/c/moved",
                    "tree/hard", "tree/sym"),
                s.map(p -> mnt.relativize(p).toString()).sorted().toList());
        }
        assertEquals(2, Files.getAttribute(mnt.resolve("tree/hard"), "unix:nlink"));
        assertEquals(Path.of("a/f2"), Files.readSymbolicLink(mnt.resolve("tree/sym")));
        dropKernelCaches();
        assertEquals("file 3\n", Files.readString(mnt.resolve("tree/b2/c/moved")));
        assertEquals("file 2\n", Files.readString(mnt.resolve("tree/sym")));
        assertEquals("file 1\n", Files.readString(mnt.resolve("tree/hard")));
        for (String f : List.of("tree/a/f0", "tree/a/f1", "tree/a/f2", "tree/b2/c/moved")) {
            expected.put(f, Files.readAllBytes(mnt.resolve(f)));
        }
        // the root lists the control directory next to the engine's entries
        try (Stream<Path> s = Files.list(mnt)) {
            assertTrue(s.anyMatch(p -> p.getFileName().toString().equals(".iomapfs")));
        }
    }

    @Test
    @Order(2)
    void pwriteAndReadBack() throws Exception {
        byte[] shadow = new byte[3 * 1024 * 1024 + 123];
        Random r = new Random(42);
        try (FileChannel ch = FileChannel.open(mnt.resolve("pwrite"), StandardOpenOption.CREATE_NEW,
            StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int i = 0; i < 400; i++) {
                int len = 1 + r.nextInt(300_000);
                int off = r.nextInt(shadow.length - len);
                byte[] data = random(i, len);
                System.arraycopy(data, 0, shadow, off, len);
                ch.write(ByteBuffer.wrap(data), off);
            }
            ch.write(ByteBuffer.wrap(new byte[] {7}), shadow.length - 1);
            shadow[shadow.length - 1] = 7;
            // 8-byte pwrites arrive as 8-byte WRITEs
            for (int i = 0; i < 64; i++) {
                int off = r.nextInt(shadow.length - 8);
                byte[] data = random(1000 + i, 8);
                System.arraycopy(data, 0, shadow, off, 8);
                ch.write(ByteBuffer.wrap(data), off);
            }
            ch.force(true);
        }
        assertFile("pwrite", shadow);
        dropKernelCaches();
        assertFile("pwrite", shadow);
        expected.put("pwrite", shadow);
    }

    @Test
    @Order(3)
    void mapSharedStoresMsyncDropAndReadBack() throws Exception {
        int size = 4 * 1024 * 1024;
        byte[] shadow = random(7, size);
        Files.write(mnt.resolve("mmap"), shadow);
        Random r = new Random(3);
        try (FileChannel ch = FileChannel.open(mnt.resolve("mmap"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
            for (int i = 0; i < 2000; i++) {
                int off = r.nextInt(size - 16);
                byte[] data = random(5000 + i, 1 + r.nextInt(16));
                m.put(off, data);
                System.arraycopy(data, 0, shadow, off, data.length);
            }
            m.force(); // msync(MS_SYNC): the kernel writes the dirty pages back as WRITEs with writepage == 1
            unmap(m);
        }
        dropKernelCaches();
        assertFile("mmap", shadow);
        expected.put("mmap", shadow);
    }

    @Test
    @Order(4)
    void directIoMixedWithBufferedIo() throws Exception {
        int size = 2 * 1024 * 1024;
        byte[] shadow = new byte[size];
        Random r = new Random(11);
        Path f = mnt.resolve("direct");
        try (FileChannel buffered = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                 StandardOpenOption.WRITE);
             FileChannel direct = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE,
                 ExtendedOpenOption.DIRECT)) {
            buffered.write(ByteBuffer.wrap(shadow), 0);
            for (int i = 0; i < 200; i++) {
                if (r.nextBoolean()) {
                    int blocks = 1 + r.nextInt(16);
                    long off = 4096L * r.nextInt(size / 4096 - blocks);
                    byte[] data = random(i, blocks * 4096);
                    ByteBuffer b = ByteBuffer.allocateDirect(data.length + 4096).alignedSlice(4096);
                    b.put(data).flip();
                    assertEquals(data.length, direct.write(b, off));
                    System.arraycopy(data, 0, shadow, (int) off, data.length);
                } else {
                    int len = 1 + r.nextInt(20000);
                    int off = r.nextInt(size - len);
                    byte[] data = random(10_000 + i, len);
                    buffered.write(ByteBuffer.wrap(data), off);
                    System.arraycopy(data, 0, shadow, off, len);
                }
                if (i % 20 == 0) {
                    // an aligned O_DIRECT read sees buffered writes (the engine flushes the range first)
                    int blocks = 1 + r.nextInt(8);
                    long off = 4096L * r.nextInt(size / 4096 - blocks);
                    ByteBuffer b = ByteBuffer.allocateDirect(blocks * 4096 + 4096).alignedSlice(4096);
                    b.limit(blocks * 4096);
                    assertEquals(blocks * 4096, direct.read(b, off));
                    byte[] got = new byte[blocks * 4096];
                    b.flip().get(got);
                    assertArrayEquals(Arrays.copyOfRange(shadow, (int) off, (int) off + got.length), got,
                        "O_DIRECT read at " + off + " after step " + i);
                }
            }
            ByteBuffer all = ByteBuffer.allocateDirect(size + 4096).alignedSlice(4096);
            all.limit(size);
            int n = 0;
            while (n < size) {
                int k = direct.read(all, n);
                assertTrue(k > 0);
                n += k;
            }
            byte[] got = new byte[size];
            all.flip().get(got);
            assertArrayEquals(shadow, got, "whole file through O_DIRECT");
        }
        dropKernelCaches();
        assertFile("direct", shadow);
        expected.put("direct", shadow);
    }

    @Test
    @Order(5)
    void fallocatePunchAndZeroRange() throws Exception {
        Path f = mnt.resolve("falloc");
        byte[] shadow = random(99, 1024 * 1024);
        Files.write(f, shadow);
        // mode 0 past EOF: size grows, new bytes read as zeros
        assertEquals(0, sh("fallocate", "-o", "1048576", "-l", "65536", f.toString()).rc());
        shadow = Arrays.copyOf(shadow, 1024 * 1024 + 65536);
        // KEEP_SIZE past EOF: size stays
        assertEquals(0, sh("fallocate", "-n", "-o", "2097152", "-l", "65536", f.toString()).rc());
        // PUNCH_HOLE | KEEP_SIZE, unaligned edges
        assertEquals(0, sh("fallocate", "-p", "-o", "10000", "-l", "50000", f.toString()).rc());
        Arrays.fill(shadow, 10000, 60000, (byte) 0);
        // ZERO_RANGE, block aligned and not
        assertEquals(0, sh("fallocate", "-z", "-o", "200704", "-l", "40960", f.toString()).rc());
        Arrays.fill(shadow, 200704, 200704 + 40960, (byte) 0);
        assertEquals(0, sh("fallocate", "-z", "-o", "500001", "-l", "7777", f.toString()).rc());
        Arrays.fill(shadow, 500001, 500001 + 7777, (byte) 0);
        // COLLAPSE_RANGE is not a modelled mode
        ProcResult collapse = sh("fallocate", "-c", "-o", "0", "-l", "4096", f.toString());
        assertNotEquals(0, collapse.rc());
        assertTrue(collapse.out().contains("Operation not supported"), collapse.out());
        assertFile("falloc", shadow);
        dropKernelCaches();
        assertFile("falloc", shadow);
        expected.put("falloc", shadow);
    }

    @Test
    @Order(6)
    void controlDirectoryReadSetRejectAndOwnerOnly() throws Exception {
        Path ctl = mnt.resolve(".iomapfs");
        Path cache = ctl.resolve("cache_bytes");
        String before = Files.readString(cache).strip();
        assertTrue(Long.parseLong(before) > 0, before);
        // set through the file and read back
        Files.writeString(cache, "33554432\n");
        assertEquals("33554432\n", Files.readString(cache));
        // set through the CLI (it writes the same file)
        assertEquals(0, cli("ctl", mnt.toString(), "cache_bytes=" + before));
        assertEquals(before + "\n", Files.readString(cache));
        // a bad value: the writer gets EINVAL and nothing changes
        IOException bad = assertThrows(IOException.class, () -> Files.writeString(cache, "lots\n"));
        assertTrue(String.valueOf(bad.getMessage()).contains("Invalid argument"), bad.toString());
        assertEquals(before + "\n", Files.readString(cache));
        assertEquals(2, cli("ctl", mnt.toString(), "cache_bytes=-5"));
        assertTrue(lastErr.toString().contains("cannot set cache_bytes=-5: inject/cache_bytes takes an integer in [4096"), lastErr.toString());
        assertEquals(before + "\n", Files.readString(cache));
        // read-only key
        assertThrows(IOException.class, () -> Files.writeString(ctl.resolve("metrics"), "1\n"));
        assertTrue(Files.readString(ctl.resolve("metrics")).lines().findAny().isPresent());
        // the build runs every daemon with lockdep (the CLI passes -Diomapfs.lockdep on): on, and nothing found
        assertEquals("on, no report\n", Files.readString(ctl.resolve("lockdep")));
        assertThrows(IOException.class, () -> Files.writeString(ctl.resolve("lockdep"), "1\n"));
        // another uid may read but not write
        ProcResult read = sh("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "cat", cache.toString());
        assertEquals(0, read.rc(), read.out());
        assertEquals(before + "\n", read.out());
        ProcResult write = sh("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "sh", "-c", "echo 4096 > " + cache);
        assertNotEquals(0, write.rc());
        assertTrue(write.out().contains("Permission denied"), write.out());
        assertEquals(before + "\n", Files.readString(cache));
        // the directory itself is fixed
        assertThrows(IOException.class, () -> Files.createDirectory(ctl.resolve("new")));
        assertThrows(IOException.class, () -> Files.createFile(ctl.resolve("new")));
        assertThrows(IOException.class, () -> Files.delete(ctl.resolve("sync")));
        assertThrows(IOException.class, () -> Files.move(ctl, mnt.resolve("elsewhere")));
        assertThrows(IOException.class, () -> Files.createDirectory(ctl));
        assertTrue(Files.isDirectory(ctl));
        assertFalse(Files.exists(mnt.resolve("elsewhere")));
        // drop_caches takes 1: the engine writes back and evicts, the data stays
        Files.writeString(ctl.resolve("drop_caches"), "1\n");
        assertThrows(IOException.class, () -> Files.writeString(ctl.resolve("drop_caches"), "2\n"));
        dropKernelCaches();
        assertFile("pwrite", expected.get("pwrite"));
    }

    @Test
    @Order(7)
    void mountErrorsAreClear() throws Exception {
        Path other = tmp.resolve("other");
        assertEquals(2, cli("mount", image.toString(), tmp.resolve("missing").toString()));
        assertTrue(lastErr.toString().contains("does not exist"), lastErr.toString());
        Files.createDirectories(other);
        assertEquals(1, cli("mount", image.toString(), other.toString()));
        assertTrue(lastErr.toString().contains("already in use"), lastErr.toString());
        assertEquals(2, cli("mount", tmp.resolve("nosuchimage").toString(), other.toString()));
        assertTrue(lastErr.toString().contains("does not exist"), lastErr.toString());
        Path image2 = tmp.resolve("img2");
        assertEquals(0, cli("mkfs", image2.toString(), "--size", "64M"));
        assertEquals(1, cli("mount", image2.toString(), mnt.toString()));
        assertTrue(lastErr.toString().contains("busy"), lastErr.toString());
        Files.writeString(other.resolve("x"), "x");
        assertEquals(2, cli("mount", image2.toString(), other.toString()));
        assertTrue(lastErr.toString().contains("not empty"), lastErr.toString());
        assertFalse(Mounts.at(other).isPresent());
    }

    @Test
    @Order(8)
    void sigtermFlushesAndUnmounts() throws Exception {
        Path image3 = tmp.resolve("img3");
        Path mnt3 = freshMount(image3, "mnt3");
        byte[] data = random(5, 300_000);
        Files.write(mnt3.resolve("f"), data); // not fsynced: SIGTERM must flush it
        ProcessHandle daemon = daemonOf(mnt3);
        assertTrue(daemon.destroy()); // SIGTERM
        daemon.onExit().get(60, TimeUnit.SECONDS);
        assertFalse(Mounts.at(mnt3).isPresent());
        assertTrue(ImageLock.isFree(image3));
        assertEquals(0, cli("fsck", image3.toString()), lastErr.toString());
        assertEquals(0, cli("mount", image3.toString(), mnt3.toString()));
        assertArrayEquals(data, Files.readAllBytes(mnt3.resolve("f")));
        assertEquals(0, cli("umount", mnt3.toString()));
    }

    /**
     * SIGTERM in the window between the mount becoming visible (the CLI returns, files can be written) and the
     * daemon's start returning: the daemon holds there until the signal's shutdown hook runs
     * ({@code Daemon.HOLD_START_PROPERTY}), so the interleaving is forced. The hook must let the start finish and
     * then flush and unmount as usual; before 2026-12-05 no hook was registered yet and the JVM exited with the
     * mount left and the data lost.
     */
    @Test
    @Order(10)
    void sigtermWhileTheDaemonIsStillStartingFlushesAndUnmounts() throws Exception {
        Path image5 = tmp.resolve("img5");
        Path mnt5 = tmp.resolve("mnt5");
        Files.createDirectories(mnt5);
        assertEquals(0, cli("mkfs", image5.toString(), "--size", "64M"));
        System.setProperty(Daemon.HOLD_START_PROPERTY, "true");
        try {
            assertEquals(0, cli("mount", image5.toString(), mnt5.toString()), lastErr.toString());
        } finally {
            System.clearProperty(Daemon.HOLD_START_PROPERTY);
        }
        byte[] data = random(9, 300_000);
        Files.write(mnt5.resolve("f"), data); // not fsynced, and the daemon is still in its start
        ProcessHandle daemon = daemonOf(mnt5);
        assertTrue(daemon.destroy()); // SIGTERM
        daemon.onExit().get(60, TimeUnit.SECONDS);
        assertFalse(Mounts.at(mnt5).isPresent(), "the mount was left behind");
        assertTrue(ImageLock.isFree(image5));
        assertEquals(0, cli("fsck", image5.toString()), lastErr.toString());
        assertEquals(0, cli("mount", image5.toString(), mnt5.toString()));
        assertArrayEquals(data, Files.readAllBytes(mnt5.resolve("f")));
        assertEquals(0, cli("umount", mnt5.toString()));
    }

    @Test
    @Order(9)
    void sigkillKeepsEveryFsyncedByteAndFsckIsClean() throws Exception {
        Path image4 = tmp.resolve("img4");
        Path mnt4 = freshMount(image4, "mnt4");
        Map<String, byte[]> synced = new TreeMap<>();
        Files.createDirectories(mnt4.resolve("d/e"));
        for (String rel : List.of("a", "d/b", "d/e/c")) {
            byte[] data = random(rel.hashCode(), 100_000 + rel.length() * 7_777);
            try (FileChannel ch = FileChannel.open(mnt4.resolve(rel), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(data));
                ch.force(true);
            }
            synced.put(rel, data);
        }
        // an overwrite of part of a fsynced file, fsynced too, and a file that is never fsynced
        try (FileChannel ch = FileChannel.open(mnt4.resolve("a"), StandardOpenOption.WRITE)) {
            byte[] patch = random(77, 5000);
            ch.write(ByteBuffer.wrap(patch), 4096);
            ch.force(true);
            System.arraycopy(patch, 0, synced.get("a"), 4096, patch.length);
        }
        Files.write(mnt4.resolve("unsynced"), random(78, 50_000));
        ProcessHandle daemon = daemonOf(mnt4);
        assertTrue(daemon.destroyForcibly()); // SIGKILL: nothing flushed, nothing unmounted
        daemon.onExit().get(60, TimeUnit.SECONDS);
        // the kernel still lists the dead mount; umount detaches it
        assertEquals(0, cli("umount", mnt4.toString()), lastErr.toString());
        assertFalse(Mounts.at(mnt4).isPresent());
        assertTrue(ImageLock.isFree(image4));
        assertEquals(0, cli("fsck", image4.toString()), lastErr.toString());
        assertEquals(0, cli("mount", image4.toString(), mnt4.toString()), lastErr.toString());
        try {
            for (Map.Entry<String, byte[]> e : synced.entrySet()) {
                assertArrayEquals(e.getValue(), Files.readAllBytes(mnt4.resolve(e.getKey())), e.getKey());
            }
        } finally {
            assertEquals(0, cli("umount", mnt4.toString()), lastErr.toString());
        }
        assertEquals(0, cli("fsck", image4.toString()), lastErr.toString());
    }

    @Test
    @Order(100)
    void remountKeepsEveryByte() throws Exception {
        assertTrue(expected.size() >= 8, "earlier tests recorded their files: " + expected.keySet());
        assertEquals(0, cli("umount", mnt.toString()), lastErr.toString());
        assertFalse(Mounts.at(mnt).isPresent());
        assertEquals(0, cli("fsck", image.toString()), lastErr.toString());
        assertEquals(0, cli("mount", image.toString(), mnt.toString()), lastErr.toString());
        for (Map.Entry<String, byte[]> e : expected.entrySet()) {
            assertFile(e.getKey(), e.getValue());
        }
    }
}
