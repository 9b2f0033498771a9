package org.iomapfs.bench;

import org.iomapfs.core.IomapFs;
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
    BenchFile file;
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
        file = BenchFile.open(FILE);
        fs = file.fs;
        fh = file.fh;
    }

    @TearDown(Level.Trial)
    public void teardown() throws Exception {
        file.close();
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
