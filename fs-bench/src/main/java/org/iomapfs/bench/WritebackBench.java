package org.iomapfs.bench;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.store.Mkfs;
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
import java.nio.file.Files;
import java.nio.file.Path;
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
    Path dir;
    IomapFs fs;
    long fh;
    final ByteBuffer buf = ByteBuffer.allocate(128 << 10);

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
