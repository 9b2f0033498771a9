package org.iomapfs.shim.holetest;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.*;

class MarkerCheckTest {
    static final long[] MARKERS = {0x1111_2222_3333_4444L, 0x5555_6666_7777_8811L};

    /** Two pages as holetest leaves them: markers at 1024 and 3072 of each page, zeros elsewhere. */
    static ByteBuffer twoPages() {
        ByteBuffer b = ByteBuffer.allocate(2 * 4096).order(ByteOrder.nativeOrder());
        for (int p = 0; p < 2; p++) {
            b.putLong(p * 4096 + 1024, MARKERS[0]);
            b.putLong(p * 4096 + 3072, MARKERS[1]);
        }
        return b;
    }

    @Test
    void holetestsOffsetsAreAQuarterAndThreeQuartersIntoThePage() {
        assertArrayEquals(new int[]{1024, 3072}, Holetest.PAGE_OFFS);
    }

    @Test
    void intactPagesAreClean() {
        MarkerCheck c = new MarkerCheck("t", 4096, Holetest.PAGE_OFFS, MARKERS);
        c.check(0, twoPages());
        assertTrue(c.clean());
    }

    @Test
    void aLostMarkerAndAStrayByteAreCounted() {
        ByteBuffer b = twoPages();
        b.putLong(4096 + 3072, 0); // writer 1's marker in page 1 lost (all 8 bytes differ)
        b.put(5, (byte) 1);        // one stray byte outside the markers
        MarkerCheck c = new MarkerCheck("t", 4096, Holetest.PAGE_OFFS, MARKERS);
        c.check(0, b);
        assertEquals(1, c.badMarkers);
        assertEquals(9, c.badBytes);
    }

    @Test
    void piecesAreCheckedAtTheirFileOffset() {
        ByteBuffer b = twoPages();
        MarkerCheck c = new MarkerCheck("t", 4096, Holetest.PAGE_OFFS, MARKERS);
        c.check(0, b.duplicate().position(0).limit(4096).slice().order(ByteOrder.nativeOrder()));
        c.check(4096, b.duplicate().position(4096).limit(8192).slice().order(ByteOrder.nativeOrder()));
        assertTrue(c.clean());
        c.check(8, b.duplicate().position(0).limit(4096)); // one long off: every marker is misplaced
        assertEquals(2, c.badMarkers);
    }

    @Test
    void badArgumentsExit2() {
        assertEquals(2, Holetest.run("/nonexistent/f", "3X"));
        assertEquals(2, Holetest.run("/nonexistent/f", "1", "--sizing", "memset"));
        assertEquals(2, Holetest.run("-F", "--follow", "/nonexistent/f", "1"));
        assertEquals(2, Holetest.run("--flush", "sometimes", "/nonexistent/f", "1"));
    }
}
