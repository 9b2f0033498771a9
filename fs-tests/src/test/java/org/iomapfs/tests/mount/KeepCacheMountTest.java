package org.iomapfs.tests.mount;

import org.iomapfs.shim.sys.Mappings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The mount opens regular files with FOPEN_KEEP_CACHE: another process's open no longer empties the kernel's
 * page cache of the file (fuse_finish_open in fs/fuse/file.c runs invalidate_inode_pages2 on every open
 * without it), and the cache stays coherent because the kernel invalidates what other processes change through
 * the mount: an O_DIRECT write, a truncate and a punched hole.
 *
 * <p>Residency is read with mincore(2) ({@link MappedByteBuffer#isLoaded}) over a mapping of the file that this
 * test faulted in through the fd it read with, so checking opens nothing. The pages stay mapped, which also
 * keeps a machine-wide {@code drop_caches} by some other program from evicting them (invalidate_mapping_pages
 * skips mapped folios), while an invalidation on open (invalidate_inode_pages2) unmaps and drops them. The other
 * processes are plain tools (sh, dd, fallocate, truncate), each its own process doing its own open.
 */
class KeepCacheMountTest {
    private static final int PAGE = 4096;
    private static final int SIZE = 1 << 20;

    @TempDir
    Path tmp;

    @Test
    void cachedPagesSurviveAnotherOpenAndStayCoherentWithDirectWriteTruncateAndPunch() throws Exception {
        LiveMount.assumeFuse("KeepCacheMountTest");
        try (LiveMount m = LiveMount.start(tmp, "256M", "--cache-mb", "64")) {
            Path f = m.mnt.resolve("f");
            byte[] expected = pattern(1, SIZE);
            Files.write(f, expected);
            LiveMount.dropKernelCaches();
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                assertArrayEquals(expected, readAt(ch, 0, SIZE), "first read through the daemon");
                MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE);
                try {
                    checks(f, ch, map, expected);
                } finally {
                    Mappings.unmap(map); // a live mapping would keep the mount busy
                }
            }
            LiveMount.dropKernelCaches();
            assertArrayEquals(expected, Files.readAllBytes(f), "the daemon holds the same data");
        }
    }

    private void checks(Path f, FileChannel ch, MappedByteBuffer map, byte[] expected) throws Exception {
        for (int off = 0; off < SIZE; off += PAGE) {
            map.get(off); // fault each page in: mapped pages are not dropped by drop_caches
        }
        assertTrue(map.isLoaded(), "the file's pages are in the kernel page cache after the read");

        run("sh", "-c", ": < \"$1\"", "sh", f.toString()); // another process opens and closes the file
        assertTrue(map.isLoaded(), "another process's open must not invalidate the cached pages (keep_cache)");
        assertArrayEquals(expected, readAt(ch, 0, SIZE), "the kept pages hold the file's data");

        // O_DIRECT write of 16 KiB at 64 KiB from another process: the written range is invalidated
        byte[] direct = pattern(2, 4 * PAGE);
        Path src = tmp.resolve("direct.bin");
        Files.write(src, direct);
        run("dd", "if=" + src, "of=" + f, "bs=" + PAGE, "seek=16", "count=4", "oflag=direct", "conv=notrunc",
            "status=none");
        System.arraycopy(direct, 0, expected, 16 * PAGE, direct.length);
        assertArrayEquals(direct, readAt(ch, 16L * PAGE, direct.length), "read after another process's O_DIRECT write");
        byte[] viaMap = new byte[direct.length];
        map.get(16 * PAGE, viaMap);
        assertArrayEquals(direct, viaMap, "the mapping sees the O_DIRECT write too");

        // punch 64 KiB at 128 KiB from another process
        run("fallocate", "--punch-hole", "--offset", Integer.toString(32 * PAGE), "--length", Integer.toString(16 * PAGE),
            f.toString());
        Arrays.fill(expected, 32 * PAGE, 48 * PAGE, (byte) 0);
        assertArrayEquals(new byte[16 * PAGE], readAt(ch, 32L * PAGE, 16 * PAGE), "a punched range reads as zeroes");

        // truncate to 512 KiB and back to 1 MiB from other processes: the cut half reads as zeroes
        run("truncate", "-s", Integer.toString(SIZE / 2), f.toString());
        assertEquals(SIZE / 2, ch.size(), "size after truncate");
        run("truncate", "-s", Integer.toString(SIZE), f.toString());
        Arrays.fill(expected, SIZE / 2, SIZE, (byte) 0);
        assertEquals(SIZE, ch.size(), "size after extending again");
        assertArrayEquals(expected, readAt(ch, 0, SIZE), "whole file after O_DIRECT write, punch and truncate");
    }

    private static byte[] readAt(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                break;
            }
        }
        return Arrays.copyOf(b.array(), b.position());
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", cmd) + " did not finish");
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + out);
        }
    }

    private static byte[] pattern(long seed, int len) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }
}
