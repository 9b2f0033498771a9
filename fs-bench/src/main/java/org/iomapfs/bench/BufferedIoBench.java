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
 * 4 KiB buffered writes, cached reads and page_mkwrite stores, and 128 KiB sequential buffered writes (the size
 * FUSE sends a large write in), against an engine on a temporary image; every operation hits cached folios.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class BufferedIoBench {
    static final int FILE = 64 << 20;
    Path dir;
    IomapFs fs;
    long fh;
    final ByteBuffer buf = ByteBuffer.allocate(4096);
    final ByteBuffer big = ByteBuffer.allocate(128 << 10);
    long pos;
    long seqPos;

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
