package org.iomapfs.tests.mount;

import com.sun.nio.file.ExtendedOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fstests generic/451's pattern through the mount: another process rewrites a 640 KiB file again and again with
 * O_DIRECT, each time with a new generation number in every 8-byte word, while this process reads the whole file
 * with buffered reads through its own handles. After each completed direct write the writer re-reads the file
 * through a fresh buffered handle, as aio-dio-cycle-write's file_check does, and every reader here checks that no
 * word is older than the last generation whose write had completed before its read began.
 *
 * <p>A buffered read running between a direct write's page-cache invalidation and its I/O caches the old blocks;
 * unless the write invalidates again when it completes (iomap_dio_complete -> kiocb_invalidate_post_direct_write),
 * they are served to every later read, here by the daemon's engine, and the kernel's cache of the file refills
 * from it. Without that second invalidation this failed at the third cycle.
 */
class DirectWriteVsBufferedReadMountTest {
    static final int SIZE = 655_360; // generic/451's FSIZE
    static final int READERS = 2;

    @TempDir
    Path tmp;

    @Test
    void bufferedReadsAfterACompletedDirectWriteNeverSeeTheOldData() throws Exception {
        LiveMount.assumeFuse("DirectWriteVsBufferedReadMountTest");
        try (LiveMount m = LiveMount.start(tmp, "256M")) {
            Path f = m.mnt.resolve("f");
            Path progress = tmp.resolve("completed-generation");
            Files.write(f, new byte[SIZE]); // generation 0
            Files.write(progress, new byte[0]);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<String> stale = new AtomicReference<>();
            AtomicLong reads = new AtomicLong();
            List<Thread> readers = new ArrayList<>();
            for (int i = 0; i < READERS; i++) {
                Thread t = new Thread(() -> readLoop(f, progress, stop, stale, reads), "buffered-reader-" + i);
                t.start();
                readers.add(t);
            }
            LiveMount.Proc writer;
            try {
                writer = LiveMount.workload(120, DirectWriter.class.getName(), f.toString(), progress.toString(),
                        "3000", "10");
            } finally {
                stop.set(true);
                for (Thread t : readers) {
                    t.join();
                }
            }
            assertNull(stale.get(), "a buffered read in this process saw data older than a completed direct write");
            assertEquals(0, writer.rc(), "the writer's own buffered re-read after each direct write:\n" + writer.out());
            assertTrue(writer.out().contains("cycles="), writer.out());
            assertTrue(reads.get() > 0, "the readers read the file while it was being rewritten");
            System.out.println("DirectWriteVsBufferedReadMountTest: " + writer.out().strip() + ", reads=" + reads.get());
        }
    }

    private static void readLoop(Path f, Path progress, AtomicBoolean stop, AtomicReference<String> stale,
                                 AtomicLong reads) {
        ByteBuffer buf = ByteBuffer.allocate(SIZE);
        try {
            while (!stop.get() && stale.get() == null) {
                long completed = Files.size(progress);
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    buf.clear();
                    while (buf.hasRemaining() && ch.read(buf, buf.position()) > 0) {
                        // read the whole file
                    }
                }
                for (int off = 0; off + 8 <= buf.position(); off += 8) {
                    long g = buf.getLong(off);
                    if (g < completed) {
                        stale.compareAndSet(null, "generation " + g + " at offset " + off + " after generation "
                                + completed + " had completed");
                        break;
                    }
                }
                reads.incrementAndGet();
            }
        } catch (IOException e) {
            stale.compareAndSet(null, "read failed: " + e);
        }
    }

    /**
     * The other process: rewrites the file with O_DIRECT (generation g in every word), publishes g once the write
     * returned (as the progress file's size, which a reader's stat sees whole), then reads the file back through a new buffered handle; exits 1 naming the first stale word.
     * Arguments: FILE PROGRESS_FILE MAX_CYCLES MAX_SECONDS.
     */
    public static final class DirectWriter {
        public static void main(String[] args) throws IOException {
            Path f = Path.of(args[0]);
            Path progress = Path.of(args[1]);
            long maxCycles = Long.parseLong(args[2]);
            long deadline = System.nanoTime() + Long.parseLong(args[3]) * 1_000_000_000L;
            ByteBuffer out = ByteBuffer.allocateDirect(SIZE + 4096).alignedSlice(4096).limit(SIZE);
            ByteBuffer in = ByteBuffer.allocate(SIZE);
            long g = 0;
            try (FileChannel direct = FileChannel.open(f, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
                 RandomAccessFile p = new RandomAccessFile(progress.toFile(), "rw")) {
                while (g < maxCycles && System.nanoTime() < deadline) {
                    g++;
                    for (int off = 0; off < SIZE; off += 8) {
                        out.putLong(off, g);
                    }
                    out.clear().limit(SIZE);
                    while (out.hasRemaining()) {
                        direct.write(out, out.position());
                    }
                    p.setLength(g);
                    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                        in.clear();
                        while (in.hasRemaining() && ch.read(in, in.position()) > 0) {
                            // read the whole file
                        }
                    }
                    for (int off = 0; off < SIZE; off += 8) {
                        long seen = off + 8 <= in.position() ? in.getLong(off) : -1;
                        if (seen != g) {
                            System.out.println("stale buffered read after direct write " + g + " completed: word at "
                                    + off + " holds generation " + seen);
                            System.exit(1);
                        }
                    }
                }
            }
            System.out.println("cycles=" + g);
        }
    }
}
