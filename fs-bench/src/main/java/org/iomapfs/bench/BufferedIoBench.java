package org.iomapfs.bench;

import org.iomapfs.core.IomapFs;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
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
    /**
     * The file the operations cycle over. 8 MiB stays under the flusher's background threshold (4096 dirty folios,
     * 16 MiB): the writes meet one writeback pass a second, so the score is the write path into cached folios.
     * 64 MiB stays over it: background writeback runs without pause over the same folios (folio locks, the ILOCK,
     * the second CPU), so the score is a write path competing with writeback, as a long streaming rewrite does.
     */
    @Param({"8", "64"})
    int fileMiB;
    int fileBytes;
    BenchFile bench;
    IomapFs fs;
    long fh;
    final ByteBuffer buf = ByteBuffer.allocate(4096);
    final ByteBuffer big = ByteBuffer.allocate(128 << 10);
    long pos;
    long seqPos;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        fileBytes = fileMiB << 20;
        bench = BenchFile.open(fileBytes);
        fs = bench.fs;
        fh = bench.fh;
    }

    @TearDown(Level.Trial)
    public void teardown() throws Exception {
        bench.close();
    }

    private long next() {
        pos = (pos + 4096) % fileBytes;
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
        seqPos = (seqPos + big.capacity()) % fileBytes;
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
