package org.iomapfs.fuse;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ControlTreeTest {
    @Test
    void keysWithSlashesBecomeDirectories() {
        ControlTree t = ControlTree.build(List.of("mode", "bugs/stale-iomap", "bugs/mkwrite", "inject/a/b", "metrics"));
        assertEquals(List.of("mode", "bugs", "inject", "metrics"), t.lookup("/.iomapfs").children());
        assertEquals(List.of("stale-iomap", "mkwrite"), t.lookup("/.iomapfs/bugs").children());
        assertTrue(t.lookup("/.iomapfs/inject/a").isDir());
        assertEquals("inject/a/b", t.lookup("/.iomapfs/inject/a/b").key());
        assertEquals("bugs/mkwrite", t.lookup("/.iomapfs/bugs/mkwrite").key());
        assertFalse(t.lookup("/.iomapfs/mode").isDir());
        assertNull(t.lookup("/.iomapfs/nope"));
        assertNull(t.lookup("/.iomapfs/bugs/stale-iomap/x"));
        long distinct = List.of("/.iomapfs", "/.iomapfs/bugs", "/.iomapfs/mode", "/.iomapfs/inject/a/b").stream()
            .mapToLong(p -> t.lookup(p).ino()).distinct().count();
        assertEquals(4, distinct);
    }

    @Test
    void clashingOrMalformedKeysAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> ControlTree.build(List.of("bugs", "bugs/x")));
        assertThrows(IllegalArgumentException.class, () -> ControlTree.build(List.of("bugs/x", "bugs")));
        assertThrows(IllegalArgumentException.class, () -> ControlTree.build(List.of("/abs")));
        assertThrows(IllegalArgumentException.class, () -> ControlTree.build(List.of("a//b")));
    }

    @Test
    void controlPaths() {
        assertTrue(ControlTree.isControlPath("/.iomapfs"));
        assertTrue(ControlTree.isControlPath("/.iomapfs/mode"));
        assertFalse(ControlTree.isControlPath("/.iomapfsx"));
        assertFalse(ControlTree.isControlPath("/a/.iomapfs"));
        assertFalse(ControlTree.isControlPath(null));
    }
}
