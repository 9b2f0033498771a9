package org.iomapfs.fuse;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MountsTest {
    @Test
    void mountinfoEscapesAreDecoded() {
        assertEquals("/tmp/a b\\c", Mounts.unescape("/tmp/a\\040b\\134c"));
        assertEquals("/plain", Mounts.unescape("/plain"));
        assertEquals("/trailing\\04", Mounts.unescape("/trailing\\04"));
    }
}
