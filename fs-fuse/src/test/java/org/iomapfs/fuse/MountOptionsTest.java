package org.iomapfs.fuse;

import org.iomapfs.core.config.AtimePolicy;
import org.iomapfs.core.config.AtimePolicy.Mode;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The generic mount options handed to libfuse 2.9: ro (MS_RDONLY) and noatime (MS_NOATIME) are in its mount.c
 * mount_flags; relatime, strictatime and nodiratime are not, and the kernel's fuse refuses options it does not know,
 * so those stay with the engine only.
 */
class MountOptionsTest {
    private static List<String> fuseOpts(boolean ro, AtimePolicy atime) {
        String[] argv = new MountOptions("src", 4, LoopKind.POOL, 131072, false, false, false, ro, atime)
            .argv(Path.of("/mnt"));
        return List.of(argv[argv.length - 1].split(","));
    }

    @Test
    void readOnlyAndNoatimeReachLibfuseAndTheOtherAtimeModesDoNot() {
        assertTrue(fuseOpts(true, AtimePolicy.DEFAULT).contains("ro"));
        assertFalse(fuseOpts(false, AtimePolicy.DEFAULT).contains("ro"));
        assertTrue(fuseOpts(false, new AtimePolicy(Mode.NOATIME, false)).contains("noatime"));
        for (AtimePolicy p : List.of(AtimePolicy.DEFAULT, new AtimePolicy(Mode.STRICTATIME, true))) {
            List<String> o = fuseOpts(false, p);
            assertTrue(o.stream().noneMatch(x -> x.endsWith("atime")), p + " adds no atime option: " + o);
        }
    }
}
