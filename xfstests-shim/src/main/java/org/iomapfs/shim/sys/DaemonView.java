package org.iomapfs.shim.sys;

import com.sun.nio.file.ExtendedOpenOption;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * What the daemon holds for a file, past the kernel page cache that can hide what the daemon lost: a buffered
 * read after a kernel cache drop, and an O_DIRECT read (which FUSE passes to the daemon). Flush first (fsync or
 * msync): dirty pages are neither dropped nor bypassed.
 */
public final class DaemonView {
    private DaemonView() { }

    /** Drops the kernel caches and reads the whole file with buffered reads. */
    public static byte[] bufferedAfterDrop(Path file) throws IOException {
        PageCache.dropKernelCaches();
        return Files.readAllBytes(file);
    }

    /** Reads the whole file through O_DIRECT, 1 MiB at a time (the last read comes back short at end of file). */
    public static byte[] direct(Path file) throws IOException {
        int chunk = 1 << 20;
        ByteBuffer b = PageCache.alignedBuffer(chunk);
        try (FileChannel d = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)) {
            long size = d.size();
            if (size > Integer.MAX_VALUE - 16) {
                throw new IOException(file + " is too large to compare in memory: " + size);
            }
            byte[] all = new byte[(int) size];
            long pos = 0;
            while (pos < size) {
                b.clear();
                int n = d.read(b, pos);
                if (n <= 0) {
                    throw new IOException(String.format("%s: O_DIRECT read at 0x%x returned %d before end of file "
                        + "0x%x", file, pos, n, size));
                }
                b.get(0, all, (int) pos, (int) Math.min(n, size - pos));
                pos += n;
            }
            return all;
        }
    }

    /** Null when equal; otherwise one line: the size difference or the first bad offset with 16 bytes of each. */
    public static String diff(byte[] want, byte[] got) {
        if (want.length != got.length) {
            return String.format("size 0x%x, expected 0x%x", got.length, want.length);
        }
        int i = Arrays.mismatch(want, got);
        if (i < 0) {
            return null;
        }
        int bad = 0;
        for (int k = i; k < want.length; k++) {
            bad += want[k] != got[k] ? 1 : 0;
        }
        int end = Math.min(want.length, i + 16);
        HexFormat hex = HexFormat.ofDelimiter(" ");
        return String.format("first bad offset 0x%x (%d bad bytes): expected %s, actual %s", i, bad,
            hex.formatHex(want, i, end), hex.formatHex(got, i, end));
    }
}
