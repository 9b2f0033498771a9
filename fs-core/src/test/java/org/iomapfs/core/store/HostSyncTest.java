package org.iomapfs.core.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** sync_file_range reaches the kernel: it accepts a range of a written file and refuses a negative offset. */
class HostSyncTest {
    @TempDir
    Path dir;

    @Test
    void startWriteIsTheKernelsSyncFileRange() throws Exception {
        Path f = dir.resolve("img");
        Files.write(f, new byte[1 << 20]);
        try (HostSync s = HostSync.open(f)) {
            assertNotNull(s, "sync_file_range through libc on this Linux machine");
            assertEquals(0, s.startWrite(0, 1 << 20));
            assertEquals(-1, s.startWrite(-4096, 4096), "EINVAL for a negative offset");
        }
    }
}
