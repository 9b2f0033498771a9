package org.iomapfs.shim.sys;

import org.iomapfs.shim.io.DaemonRead;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Whole files as the daemon holds them, as byte arrays to compare with a shadow copy (on top of
 * {@link DaemonRead}), and a one-line report of the first difference. Flush first (fsync or msync): dirty pages
 * are neither dropped nor bypassed.
 */
public final class DaemonView {
    private DaemonView() { }

    /** Drops the kernel caches and reads the whole file with buffered reads; throws where it may not drop them. */
    public static byte[] bufferedAfterDrop(Path file) throws IOException {
        if (!DaemonRead.dropKernelCaches()) {
            throw new IOException("cannot write /proc/sys/vm/drop_caches (not root?): the page cache would hide "
                + "what the daemon holds");
        }
        return Files.readAllBytes(file);
    }

    /** Reads the whole file through O_DIRECT ({@link DaemonRead#direct}). */
    public static byte[] direct(Path file) throws IOException {
        long size = Files.size(file);
        if (size > Integer.MAX_VALUE - 16) {
            throw new IOException(file + " is too large to compare in memory: " + size);
        }
        byte[] all = new byte[(int) size];
        DaemonRead.direct(file, size, (pos, buf) -> buf.get(buf.position(), all, (int) pos, buf.remaining()));
        return all;
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
