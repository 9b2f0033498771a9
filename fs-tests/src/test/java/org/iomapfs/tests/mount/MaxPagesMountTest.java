package org.iomapfs.tests.mount;

import org.iomapfs.fuse.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * FUSE_MAX_PAGES through the mount: by default the INIT reply asks for 256 pages per request and a 1 MiB
 * max_write, so a 1 MiB O_DIRECT write (from another process: dd) reaches the daemon as one WRITE, where the
 * kernel's default of 32 pages splits it into eight; {@code --max-write 131072} keeps the old split. The bytes
 * read back are the bytes written, and a value outside the range is refused before anything is mounted.
 */
class MaxPagesMountTest {
    @TempDir
    Path tmp;

    /** Writes 4 MiB of {@code src} with dd bs=1M oflag=direct; returns the WRITE requests it took. */
    private static long directWriteRequests(LiveMount m, Path src) throws IOException {
        Path f = m.mnt.resolve("f");
        long before = m.metric("iomapfs_fuse_write_requests_total");
        long bytesBefore = m.metric("iomapfs_fuse_write_bytes_total");
        String out = LiveMount.run(60, "dd", "if=" + src, "of=" + f, "bs=1M", "count=4", "oflag=direct",
            "conv=notrunc", "status=none");
        assertEquals("", out.strip(), "dd: " + out);
        assertEquals(4L << 20, m.metric("iomapfs_fuse_write_bytes_total") - bytesBefore, "bytes the WRITEs carried");
        assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(f), "the file reads back as written");
        return m.metric("iomapfs_fuse_write_requests_total") - before;
    }

    private Path source() throws IOException {
        byte[] data = new byte[4 << 20];
        new Random(42).nextBytes(data);
        return Files.write(tmp.resolve("src"), data);
    }

    @Test
    void aOneMebibyteDirectWriteIsOneRequestByDefault() throws Exception {
        LiveMount.assumeFuse("MaxPagesMountTest");
        Path src = source();
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            assertEquals(256, m.metric("iomapfs_fuse_max_pages"), "the INIT reply asked for 256 pages");
            assertEquals(4, directWriteRequests(m, src), "WRITE requests for four 1 MiB O_DIRECT writes");
        }
    }

    @Test
    void maxWrite128KiBKeepsTheKernelsDefaultOf32Pages() throws Exception {
        LiveMount.assumeFuse("MaxPagesMountTest");
        Path src = source();
        try (LiveMount m = LiveMount.start(tmp, "64M", "--max-write", "131072")) {
            assertEquals(32, m.metric("iomapfs_fuse_max_pages"), "no FUSE_MAX_PAGES asked for");
            assertEquals(32, directWriteRequests(m, src), "WRITE requests for four 1 MiB O_DIRECT writes");
        }
    }

    @Test
    void aMaxWriteOutOfRangeOrWithTheStockLoopIsRefusedWithoutMounting() throws Exception {
        LiveMount.assumeFuse("MaxPagesMountTest");
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        Path img = tmp.resolve("img");
        LiveMount.cliOk("mkfs", img.toString(), "--size", "64M");
        for (String[] opts : new String[][] {{"--max-write", "4096"}, {"--max-write", "1048577"},
                {"--loop", "stock", "--max-write", "262144"}}) {
            StringWriter err = new StringWriter();
            String[] args = new String[3 + opts.length];
            args[0] = "mount";
            args[1] = img.toString();
            args[2] = mnt.toString();
            System.arraycopy(opts, 0, args, 3, opts.length);
            assertEquals(2, Main.run(new PrintWriter(err, true), args), String.join(" ", opts) + ": " + err);
            assertTrue(err.toString().contains("max_write"), "the message names max_write: " + err);
            assertFalse(LiveMount.daemonServing(mnt).isPresent(), "nothing mounted");
        }
    }
}
