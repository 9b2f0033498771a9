package org.iomapfs.fuse;

import com.sun.nio.file.ExtendedOpenOption;
import org.iomapfs.fuse.floor.FloorVfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Routing by origin, checked on a live mount of {@link FloorVfs}, the binding's in-memory floor (which counts how
 * requests arrive), with both request loops: write(2) is a buffered write, a MAP_SHARED store reaches the engine as a
 * page write (writepage == 1, read at its real offset), I/O on an O_DIRECT handle is direct, and an fsync
 * error reaches the caller as EIO. The mount is in this JVM; the separate-process mount is fs-tests' MountTest.
 */
class FuseMountRoutingTest {
    @TempDir
    Path tmp;
    private FuseMount mount;
    private FloorVfs fs;
    private Path mnt;

    private Map<String, Long> metrics() throws IOException {
        Map<String, Long> m = new HashMap<>();
        for (String l : Files.readAllLines(mnt.resolve(".iomapfs/metrics"))) {
            if (!l.startsWith("#")) {
                String[] f = l.split(" ");
                m.put(f[0].replace("floor_", "").replace("_total", ""), Long.parseLong(f[1]));
            }
        }
        return m;
    }

    @ParameterizedTest
    @EnumSource(LoopKind.class)
    void requestsAreRoutedByOrigin(LoopKind loop) throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is absent");
        mnt = tmp.resolve("mnt");
        Files.createDirectories(mnt);
        fs = new FloorVfs();
        mount = new FuseMount(fs, fs, Native.libc().getuid(), Native.libc().getgid());
        mount.mount(mnt, new MountOptions("iomapfs-floor", 4, loop, 131072, false, false));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.isDirectory(mnt.resolve(".iomapfs"))) { // wait for the mount to answer
            assertTrue(System.nanoTime() < deadline, "mount did not come up");
            Thread.onSpinWait();
        }

        Path f = mnt.resolve("f");
        byte[] data = new byte[8192];
        new java.util.Random(1).nextBytes(data);
        Files.write(f, data);
        Map<String, Long> m0 = metrics();
        assertTrue(m0.get("writes_buffered") >= 1, m0.toString());
        assertEquals(0, m0.get("writes_page"));
        assertEquals(0, m0.get("writes_direct"));

        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, 8192);
            map.put(100, (byte) 42);
            data[100] = 42;
            map.force();
        }
        Map<String, Long> m1 = metrics();
        assertTrue(m1.get("writes_page") >= 1, "mmap store arrived as a page write: " + m1);
        assertEquals(m0.get("writes_buffered"), m1.get("writes_buffered"), m1.toString());

        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE,
            ExtendedOpenOption.DIRECT)) {
            ByteBuffer b = ByteBuffer.allocateDirect(8192).alignedSlice(4096);
            b.limit(4096);
            assertEquals(4096, ch.read(b, 0));
            b.flip();
            byte[] got = new byte[4096];
            b.get(got);
            assertArrayEquals(java.util.Arrays.copyOf(data, 4096), got);
            b.clear().limit(4096);
            assertEquals(4096, ch.write(b, 4096));
        }
        Map<String, Long> m2 = metrics();
        assertTrue(m2.get("writes_direct") >= 1 && m2.get("reads_direct") >= 1, m2.toString());
        assertEquals(m1.get("writes_buffered"), m2.get("writes_buffered"), m2.toString());

        Files.writeString(mnt.resolve(".iomapfs/inject/wb_complete_eio"), "1\n");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {1}), 0);
            IOException e = assertThrows(IOException.class, () -> ch.force(true));
            assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), e.toString());
        }
        Files.writeString(mnt.resolve(".iomapfs/inject/wb_complete_eio"), "0\n");
        IOException bad = assertThrows(IOException.class,
            () -> Files.writeString(mnt.resolve(".iomapfs/inject/wb_complete_eio"), "x\n"));
        assertTrue(String.valueOf(bad.getMessage()).contains("Invalid argument"), bad.toString());
        assertEquals("0\n", Files.readString(mnt.resolve(".iomapfs/inject/wb_complete_eio")));
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            System.gc(); // let the mapping go before unmounting
            String err = Unmount.unmount(mnt, true);
            assertEquals(null, err);
            assertTrue(mount.awaitLoopEnd(20, TimeUnit.SECONDS), "request loop did not end after unmount");
            mount.teardown();
            fs.close();
        }
    }
}
