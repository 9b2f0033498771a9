package org.iomapfs.shim.holetest;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The ways holetest sizes its file before the race (holetest.c's header: "explicitly zero-filled by the test,
 * posix_fallocate(), fallocate(), and ftruncate()"), in holetest's order. Zero fill is the control: its blocks
 * are written before any fault, so no fault lands on a hole or an unwritten extent.
 */
public enum Sizing {
    /** ftruncate, then write zeros over the whole file (holetest memsets through a mapping; same end state). */
    ZERO_FILL("zero-fill"),
    /** posix_fallocate(3), through util-linux {@code fallocate --posix}; glibc calls fallocate(2) mode 0. */
    POSIX_FALLOCATE("posix-fallocate"),
    /** fallocate(2) mode 0, through util-linux {@code fallocate}: unwritten extents. */
    FALLOCATE("fallocate"),
    /** ftruncate(2) (RandomAccessFile.setLength): a sparse file, every page a hole. */
    FTRUNCATE("ftruncate");

    public final String label;

    Sizing(String label) {
        this.label = label;
    }

    public static Sizing parse(String s) {
        for (Sizing z : values()) {
            if (z.label.equals(s.toLowerCase(Locale.ROOT))) {
                return z;
            }
        }
        throw new IllegalArgumentException("unknown sizing '" + s + "' (zero-fill, posix-fallocate, fallocate, ftruncate)");
    }

    /** Sizes the existing empty {@code file} to {@code size} bytes. */
    public void apply(Path file, long size) throws IOException {
        switch (this) {
            case ZERO_FILL -> {
                ftruncate(file, size);
                ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
                try (FileChannel ch = FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                    for (long pos = 0; pos < size; ) {
                        zeros.clear().limit((int) Math.min(zeros.capacity(), size - pos));
                        pos += ch.write(zeros, pos);
                    }
                    ch.force(true);
                }
            }
            case POSIX_FALLOCATE -> run("fallocate", "--posix", "--length", Long.toString(size), file.toString());
            case FALLOCATE -> run("fallocate", "--length", Long.toString(size), file.toString());
            case FTRUNCATE -> ftruncate(file, size);
            default -> throw new AssertionError(this);
        }
        long got = Files.size(file);
        if (got != size) {
            throw new IOException(label + " left " + file + " at " + got + " bytes, wanted " + size);
        }
    }

    private static void ftruncate(Path file, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
    }

    private static void run(String... cmd) throws IOException {
        List<String> c = new ArrayList<>(List.of(cmd));
        Process p;
        try {
            p = new ProcessBuilder(c).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("cannot run " + cmd[0] + " (util-linux): " + e.getMessage(), e);
        }
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", c) + " did not finish in 60 s");
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", c) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
