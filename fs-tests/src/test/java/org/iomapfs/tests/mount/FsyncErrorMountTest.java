package org.iomapfs.tests.mount;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fsync reports a writeback error on the real mount the way Linux does since errseq_t (lib/errseq.c, used by
 * file_check_and_advance_wb_err): every open file that was open when the error happened learns of it exactly
 * once, at its next fsync, and a later fsync on the same file succeeds unless writeback failed again (fstests
 * generic/441's contract for one file and several fds). The error comes from {@code inject/wb_complete_eio=1}
 * (every writeback I/O of the daemon fails at completion), set at mount time. The data itself travels through
 * the kernel: writes from this process reach the daemon as FUSE WRITEs, the fsyncs as FUSE FSYNCs on each fd's
 * own handle.
 */
class FsyncErrorMountTest {
    @TempDir
    Path tmp;

    @Test
    void fsyncReportsWritebackEioOncePerFdAndRecoversAfterTheInjectionIsOff() throws Exception {
        LiveMount.assumeFuse("FsyncErrorMountTest");
        try (LiveMount m = LiveMount.start(tmp, "256M", "--cache-mb", "64", "--inject", "wb_complete_eio=1")) {
            assertEquals(1.0, Double.parseDouble(m.ctl("inject/wb_complete_eio")));
            Path f = m.mnt.resolve("f");
            byte[] lost = pattern(1, 64 << 10);
            byte[] kept = pattern(2, 64 << 10);
            try (FileChannel writer = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 FileChannel other = FileChannel.open(f, StandardOpenOption.READ)) {
                writeFully(writer, lost);

                IOException e = assertThrows(IOException.class, () -> writer.force(true),
                    "fsync after a failed writeback must fail");
                assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), "EIO, got: " + e);
                writer.force(true); // reported once to this fd: nothing new since
                // the other fd was open when writeback failed and has not been told yet
                IOException e2 = assertThrows(IOException.class, () -> other.force(true),
                    "an fd open at the time of the failure learns of it at its own next fsync");
                assertTrue(String.valueOf(e2.getMessage()).contains("Input/output error"), "EIO, got: " + e2);
                other.force(true);

                m.setCtl("inject/wb_complete_eio", "0");
                assertEquals(0.0, Double.parseDouble(m.ctl("inject/wb_complete_eio")));
                writeFully(writer, kept);
                writer.force(true); // writeback works again and no error is pending for this fd
                other.force(true);
            }
            m.remount();
            assertArrayEquals(kept, Files.readAllBytes(f), "the rewritten data survives a remount");
        }
    }

    private static void writeFully(FileChannel ch, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        long pos = 0;
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }

    private static byte[] pattern(long seed, int len) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        // never all zeroes: a lost write must not read back as a plausible pattern
        if (Arrays.equals(b, new byte[len])) {
            b[0] = 1;
        }
        return b;
    }
}
