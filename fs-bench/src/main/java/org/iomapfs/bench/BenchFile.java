package org.iomapfs.bench;

import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.store.Mkfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

/**
 * The engine the I/O benchmarks run on: a 1 GiB image in a temporary directory, a 256 MiB cache (unless told
 * otherwise) and one file of {@code size} bytes, written and fsynced so every benchmark starts from written extents.
 */
final class BenchFile implements AutoCloseable {
    final Path dir;
    final IomapFs fs;
    final long fh;

    private BenchFile(Path dir, IomapFs fs, long fh) {
        this.dir = dir;
        this.fs = fs;
        this.fh = fh;
    }

    static BenchFile open(int size) throws IOException {
        return open(size, 256L << 20);
    }

    static BenchFile open(int size, long cacheBytes) throws IOException {
        Path dir = Files.createTempDirectory("iomapfs-bench");
        Path img = dir.resolve("img");
        Mkfs.format(img, 1L << 30, 4096, false);
        IomapFs fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(cacheBytes));
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.allocate(size));
        fs.fsync(fh, false);
        return new BenchFile(dir, fs, fh);
    }

    @Override
    public void close() throws IOException {
        fs.close();
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
