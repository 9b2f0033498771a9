package org.iomapfs.bench;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.store.Mkfs;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Mixed: two threads read and two write 4 KiB at random offsets of one 64 MiB file (cached, 256 MiB budget,
 * flusher running), so readers, writers, i_rwsem and writeback contend as they do under a FUSE pool.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class MixedBench {
    static final int FILE = 64 << 20;
    Path dir;
    IomapFs fs;
    long fh;

    /** Each thread's buffer and random offsets (xorshift: no allocation per operation). */
    @State(Scope.Thread)
    public static class Cursor {
        final ByteBuffer buf = ByteBuffer.allocate(4096);
        long seed = System.nanoTime() | 1;

        long next() {
            seed ^= seed << 13;
            seed ^= seed >>> 7;
            seed ^= seed << 17;
            return ((seed >>> 1) % (FILE / 4096)) * 4096;
        }
    }

    @Setup(Level.Trial)
    public void setup() throws Exception {
        dir = Files.createTempDirectory("iomapfs-bench");
        Path img = dir.resolve("img");
        Mkfs.format(img, 1L << 30, 4096, false);
        fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(256L << 20));
        fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.allocate(FILE));
        fs.fsync(fh, false);
    }

    @TearDown(Level.Trial)
    public void teardown() throws Exception {
        fs.close();
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    @Group("mixed")
    @GroupThreads(2)
    public int read4k(Cursor c) {
        c.buf.clear();
        return fs.read(fh, c.next(), c.buf);
    }

    @Benchmark
    @Group("mixed")
    @GroupThreads(2)
    public int write4k(Cursor c) {
        c.buf.clear();
        return fs.write(fh, c.next(), c.buf);
    }
}
