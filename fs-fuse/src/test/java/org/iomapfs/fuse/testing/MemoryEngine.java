package org.iomapfs.fuse.testing;

import org.iomapfs.fuse.Engine;

import java.nio.file.Path;
import java.util.List;

/** TEST ONLY: selects {@link MemoryVfs} with {@code -Diomapfs.engine=org.iomapfs.fuse.testing.MemoryEngine}. */
public final class MemoryEngine implements Engine {
    @Override
    public Opened open(Path image, long cacheBytes) {
        MemoryVfs fs = MemoryVfs.open(image);
        return new Opened(fs, fs);
    }

    @Override
    public void mkfs(Path image, long sizeBytes, int blockSize, boolean force) {
        MemoryVfs.format(image, sizeBytes, blockSize, force);
    }

    @Override
    public List<String> fsck(Path image) {
        return MemoryVfs.check(image);
    }
}
