package org.iomapfs.bench;

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
 * 1 MiB sequential buffered writes (one FUSE request with FUSE_MAX_PAGES) cycling over a 256 MiB file with the
 * flusher writing the image behind, the engine's share of fio-compare's sequential write job (a 512 MiB file
 * through a 256 MiB cache) without FUSE. With a 64 MiB cache every write creates 256 folios and each creation
 * past the budget reclaims a clean folio writeback finished with, as in that job; with 512 MiB every write after
 * the first pass finds its folios cached, which separates what allocation and reclaim cost.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class StreamingWriteBench {
    static final int FILE_BYTES = 256 << 20;
    @Param({"64", "512"})
    int cacheMiB;
    BenchFile bench;
    final ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    long pos;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        bench = BenchFile.open(FILE_BYTES, (long) cacheMiB << 20);
    }

    @TearDown(Level.Trial)
    public void teardown() throws Exception {
        bench.close();
    }

    @Benchmark
    public int streamingWrite1m() {
        buf.clear();
        pos = (pos + buf.capacity()) % FILE_BYTES;
        return bench.fs.write(bench.fh, pos, buf);
    }
}
