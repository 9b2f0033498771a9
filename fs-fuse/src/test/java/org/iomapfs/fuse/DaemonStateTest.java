package org.iomapfs.fuse;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DaemonStateTest {
    @TempDir
    Path tmp;

    private static DaemonState state(long startTicks, Path mnt) {
        return new DaemonState(ProcessHandle.current().pid(), startTicks, mnt, mnt.resolveSibling("img"), false, 0, 0,
            30, "");
    }

    @Test
    void theStateOfALiveDaemonIsFoundByItsMountPoint() throws Exception {
        Path mnt = tmp.resolve("mnt").toAbsolutePath().normalize();
        Path file = DaemonState.file(mnt, 0);
        long ticks = DaemonState.startTicksOf(ProcessHandle.current().pid());
        assertTrue(ticks > 0, "/proc/self/stat starttime");
        try {
            state(ticks, mnt).write(file);
            DaemonState found = DaemonState.find(mnt).orElseThrow();
            assertEquals(ProcessHandle.current().pid(), found.pid());
            assertEquals(ticks, found.startTicks());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void aPidReusedByAnotherProcessIsNotTakenForTheDaemon() throws Exception {
        Path mnt = tmp.resolve("mnt2").toAbsolutePath().normalize();
        Path file = DaemonState.file(mnt, 0);
        long ticks = DaemonState.startTicksOf(ProcessHandle.current().pid());
        try {
            state(ticks + 1, mnt).write(file);
            assertTrue(DaemonState.find(mnt).isEmpty(), "a process started at another time is not the daemon");
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
