package org.iomapfs.shim.holetest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Compares file contents with what holetest left: in each 4096-byte page, marker[i] (8 bytes, native order, as a
 * C store of a uint64_t) at {@code offs[i]}, zeros everywhere else. Counts wrong markers (holetest's errcnt)
 * and wrong bytes (also outside the markers); prints the first few like holetest's verify_mapping().
 */
final class MarkerCheck {
    private static final int SHOW = 5;

    private final String where;
    private final int page;
    private final int[] offs;
    private final long[] marker;
    long badMarkers;
    long badBytes;
    private int shown;

    MarkerCheck(String where, int page, int[] offs, long[] marker) {
        this.where = where;
        this.page = page;
        this.offs = offs;
        this.marker = marker;
    }

    /** Checks {@code buf} (its remaining bytes), which holds the file from byte {@code pos} on. */
    void check(long pos, ByteBuffer buf) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.nativeOrder());
        int base = b.position();
        int n = b.remaining();
        for (int i = 0; i + 8 <= n; i += 8) {
            long off = pos + i;
            int within = (int) (off % page);
            long want = 0;
            int who = -1;
            for (int t = 0; t < offs.length; t++) {
                if (within == offs[t]) {
                    want = marker[t];
                    who = t;
                }
            }
            long got = b.getLong(base + i);
            if (got != want) {
                badBytes += Long.bitCount(diffBytes(got ^ want));
                if (who >= 0) {
                    badMarkers++;
                }
                if (shown++ < SHOW) {
                    System.out.printf("ERROR: %s: %s, offset %08x, %016x != %016x%n", where,
                        who >= 0 ? "thread " + who : "outside the markers", off, got, want);
                }
            }
        }
        for (int i = n - n % 8; i < n; i++) {
            if (b.get(base + i) != 0) {
                badBytes++;
            }
        }
    }

    /** One bit set per differing byte of x (x = got ^ want). */
    private static long diffBytes(long x) {
        long m = 0;
        for (int k = 0; k < 8; k++) {
            if (((x >>> (8 * k)) & 0xff) != 0) {
                m |= 1L << k;
            }
        }
        return m;
    }

    boolean clean() {
        return badMarkers == 0 && badBytes == 0;
    }
}
