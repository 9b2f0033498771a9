package org.iomapfs.bench;

import org.iomapfs.core.IomapFs;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
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
 * Writeback-heavy: one operation writes 64 MiB in 128 KiB buffered writes over an allocated file and fsyncs it,
 * so every folio goes through writepages, the ioends and their completion. Divide the score by 16,384 folios
 * for per-folio figures.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class WritebackBench {
    static final int FILE = 64 << 20;
    BenchFile file;
    IomapFs fs;
    long fh;
    final ByteBuffer buf = ByteBuffer.allocate(128 << 10);

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
    public long writeFsync64m() {
        long n = 0;
        for (long pos = 0; pos < FILE; pos += buf.capacity()) {
            buf.clear();
            n += fs.write(fh, pos, buf);
        }
        fs.fsync(fh, false);
        return n;
    }
}
