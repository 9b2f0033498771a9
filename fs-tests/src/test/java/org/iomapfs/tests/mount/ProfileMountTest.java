package org.iomapfs.tests.mount;

import org.iomapfs.fuse.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code iomapfs mount --profile NAME} and {@code --invalidate MODE} reach a background daemon and set the
 * profile's injection knobs before the mount answers; an {@code --inject} of the same knob wins over the
 * profile's; {@code profile=none} puts the knobs back; an unknown profile or mode refuses the mount with exit
 * 2 and a message naming what is accepted, and mounts nothing.
 */
class ProfileMountTest {
    @TempDir
    Path tmp;

    @Test
    void profileSetsItsKnobsInjectOverridesAndNoneResets() throws Exception {
        LiveMount.assumeFuse("ProfileMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M", "--mode", "buggy", "--profile", "punch-delalloc",
                "--inject", "write_delay_ms=7", "--invalidate", "all")) {
            assertEquals("punch-delalloc", m.ctl("profile"));
            assertEquals("0.5", m.ctl("inject/copyin_fail"));
            assertEquals("0", m.ctl("inject/copyin_bytes"));
            assertEquals("7", m.ctl("inject/write_delay_ms"), "--inject overrides the profile's knob");
            assertEquals("all", m.ctl("invalidate"));
            assertEquals("buggy", m.ctl("mode"), "a profile sets no bug switch");

            m.setCtl("profile", "mkwrite-ops");
            assertEquals("0.2", m.ctl("inject/copyin_fail"));
            assertEquals("5", m.ctl("inject/reclaim_every_ms"));
            m.setCtl("profile", "none");
            assertEquals("none", m.ctl("profile"));
            assertEquals("0.0", m.ctl("inject/copyin_fail"));
            assertEquals("random", m.ctl("inject/copyin_bytes"));
            assertEquals("0", m.ctl("inject/reclaim_every_ms"));
            assertEquals("0", m.ctl("inject/write_delay_ms"));
        }
        try (LiveMount m = LiveMount.start(tmp.resolve("default"), "64M")) {
            assertEquals("none", m.ctl("profile"));
            assertEquals("losses", m.ctl("invalidate"), "the default invalidation mode");
        }
    }

    @Test
    void unknownProfileOrModeRefusesTheMount() throws Exception {
        LiveMount.assumeFuse("ProfileMountTest");
        Path img = tmp.resolve("img");
        Path mnt = tmp.resolve("mnt");
        Files.createDirectories(mnt);
        LiveMount.cliOk("mkfs", img.toString(), "--size", "64M");

        StringWriter out = new StringWriter();
        assertEquals(2, Main.run(new PrintWriter(out, true), "mount", img.toString(), mnt.toString(), "--profile", "nope"));
        assertTrue(out.toString().contains("profile takes one of [punch-delalloc, mkwrite-ops, stale-iomap, none]"),
            out.toString());
        out.getBuffer().setLength(0);
        assertEquals(2, Main.run(new PrintWriter(out, true), "mount", img.toString(), mnt.toString(), "--invalidate", "some"));
        assertTrue(out.toString().contains("invalidate takes off, losses or all"), out.toString());
        assertFalse(Files.isDirectory(mnt.resolve(".iomapfs")), "nothing was mounted");
        assertThrows(IllegalStateException.class, () -> LiveMount.cliOk("umount", mnt.toString()));
    }
}
