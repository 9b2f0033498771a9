package org.iomapfs.fuse;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HandleTableTest {
    @Test
    void handlesAreDistinctReusedAndNeverZero() {
        HandleTable t = new HandleTable();
        Set<Long> seen = new HashSet<>();
        HandleTable.Handle[] hs = new HandleTable.Handle[3000]; // past the initial 1024 slots
        long[] fhs = new long[hs.length];
        for (int i = 0; i < hs.length; i++) {
            hs[i] = new HandleTable.Handle(i, 0, null, null);
            fhs[i] = t.add(hs[i]);
            assertTrue(fhs[i] > 0);
            assertTrue(seen.add(fhs[i]));
        }
        for (int i = 0; i < hs.length; i++) {
            assertSame(hs[i], t.get(fhs[i]));
        }
        assertSame(hs[7], t.remove(fhs[7]));
        assertNull(t.get(fhs[7]));
        assertNull(t.remove(fhs[7]));
        assertEquals(fhs[7], t.add(new HandleTable.Handle(-1, 0, null, null)));
        assertNull(t.get(0));
        assertNull(t.get(-5));
        assertNull(t.get(1L << 40));
        assertEquals(hs.length, t.size());
    }
}
