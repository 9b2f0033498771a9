package org.iomapfs.core.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * sync_file_range reaches the kernel: it accepts a range of a written file and refuses a negative offset; once
 * closed, a HostSync neither calls it nor closes again.
 */
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

    @Test
    void aClosedHostSyncTouchesNoDescriptor() throws Exception {
        Path f = dir.resolve("img");
        Files.write(f, new byte[4096]);
        HostSync s = HostSync.open(f);
        assertNotNull(s);
        s.close();
        try (FileChannel reused = FileChannel.open(f)) {
            assertEquals(-1, s.startWrite(0, 4096), "no call on a descriptor number closed and reused");
            s.close();
            assertEquals(4096, reused.size(), "the second close left the descriptor open (likely the same number)");
        }
    }
}
