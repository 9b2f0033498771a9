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
 * 4 KiB buffered writes, cached reads and page_mkwrite stores, and 128 KiB sequential buffered writes (the size
 * FUSE sends a large write in), against an engine on a temporary image; every operation hits cached folios.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class BufferedIoBench {
    static final int FILE = 64 << 20;
    BenchFile file;
    IomapFs fs;
    long fh;
    final ByteBuffer buf = ByteBuffer.allocate(4096);
    final ByteBuffer big = ByteBuffer.allocate(128 << 10);
    long pos;
    long seqPos;

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

    private long next() {
        pos = (pos + 4096) % FILE;
        return pos;
    }

    @Benchmark
    public int bufferedWrite4k() {
        buf.clear();
        return fs.write(fh, next(), buf);
    }

    @Benchmark
    public int sequentialWrite128k() {
        big.clear();
        seqPos = (seqPos + big.capacity()) % FILE;
        return fs.write(fh, seqPos, big);
    }

    @Benchmark
    public int cachedRead4k() {
        buf.clear();
        return fs.read(fh, next(), buf);
    }

    @Benchmark
    public int pageMkwrite4k() {
        buf.clear();
        return fs.writePage(fh, next(), buf);
    }
}
