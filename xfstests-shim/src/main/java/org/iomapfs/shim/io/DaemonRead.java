package org.iomapfs.shim.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads that return what the daemon holds rather than what the kernel's page cache holds: O_DIRECT reads
 * (FUSE sends each to the daemon), or ordinary reads after {@code echo 3 > /proc/sys/vm/drop_caches}.
 */
public final class DaemonRead {
    public static final int ALIGN = 4096;
    private static final int CHUNK = 1 << 20;

    private DaemonRead() { }

    /** Receives consecutive pieces of a file; {@code buf} holds {@code buf.remaining()} bytes from {@code pos}. */
    public interface Sink {
        void accept(long pos, ByteBuffer buf);
    }

    /**
     * Reads [0, size) with O_DIRECT. Offsets, lengths and the buffer are 4096-aligned, as O_DIRECT requires;
     * the last piece is read whole and trimmed to {@code size}.
     */
    public static void direct(Path file, long size, Sink sink) throws IOException {
        ByteBuffer raw = ByteBuffer.allocateDirect(CHUNK + ALIGN);
        ByteBuffer buf = raw.alignedSlice(ALIGN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
            long pos = 0;
            while (pos < size) {
                int want = (int) Math.min(CHUNK, roundUp(size - pos));
                buf.clear().limit(want);
                int got = 0;
                while (buf.hasRemaining()) {
                    int n = ch.read(buf, pos + got);
                    if (n < 0) {
                        break;
                    }
                    got += n;
                }
                buf.flip();
                buf.limit((int) Math.min(buf.limit(), size - pos));
                if (buf.limit() < Math.min(want, size - pos)) {
                    throw new IOException(file + ": O_DIRECT read ended at " + (pos + buf.limit()) + ", expected size " + size);
                }
                sink.accept(pos, buf);
                pos += want;
            }
        }
    }

    /** Reads [0, size) with ordinary reads (through the kernel's page cache). */
    public static void buffered(Path file, long size, Sink sink) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long pos = 0;
            while (pos < size) {
                buf.clear().limit((int) Math.min(CHUNK, size - pos));
                while (buf.hasRemaining()) {
                    if (ch.read(buf, pos + buf.position()) < 0) {
                        throw new IOException(file + ": read ended at " + (pos + buf.position()) + ", expected size " + size);
                    }
                }
                buf.flip();
                sink.accept(pos, buf);
                pos += buf.limit();
            }
        }
    }

    /**
     * echo 3 > /proc/sys/vm/drop_caches: clean, unmapped page-cache pages go, so the next read of them reaches
     * the daemon. Returns false (and changes nothing) where this process may not write it (not root).
     */
    public static boolean dropKernelCaches() {
        Path p = Path.of("/proc/sys/vm/drop_caches");
        if (!Files.isWritable(p)) {
            return false;
        }
        try {
            Files.writeString(p, "3");
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static long roundUp(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }
}
