package org.iomapfs.bench;

import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.config.EngineConfig;
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
import org.openjdk.jmh.annotations.Threads;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Path lookups as libfuse's high-level API makes them: getattr of a file four directories deep (one of 16 files,
 * so the lookups are not all of one string), the request every stat(2), open(2) and access check of a FUSE
 * client starts with. With 1 and 4 threads: the namespace lock's read side is shared, yet every acquisition
 * writes its state word.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LookupBench {
    static final int FILES = 16;
    Path dir;
    IomapFs fs;
    final String[] paths = new String[FILES];

    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Setup(Level.Trial)
    public void setup() throws Exception {
        dir = Files.createTempDirectory("iomapfs-bench");
        Path img = dir.resolve("img");
        Mkfs.format(img, 64L << 20, 4096, false);
        fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(16L << 20));
        String d = "";
        for (String c : new String[] {"/usr", "/share", "/doc", "/iomapfs"}) {
            d += c;
            fs.mkdir(d, 0755, 0, 0);
        }
        for (int i = 0; i < FILES; i++) {
            paths[i] = d + "/file-" + i;
            fs.release(fs.create(paths[i], 0644, OpenFlags.O_RDWR, 0, 0));
        }
    }

    @TearDown(Level.Trial)
    public void teardown() throws Exception {
        fs.close();
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private FileAttr getattr(Cursor c) {
        c.next = (c.next + 1) & (FILES - 1);
        return fs.getattr(paths[c.next]);
    }

    @Benchmark
    @Threads(1)
    public FileAttr getattr4Deep1Thread(Cursor c) { return getattr(c); }

    @Benchmark
    @Threads(4)
    public FileAttr getattr4Deep4Threads(Cursor c) { return getattr(c); }
}
