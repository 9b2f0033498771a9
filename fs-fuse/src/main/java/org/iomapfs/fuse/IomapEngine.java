package org.iomapfs.fuse;

import org.iomapfs.core.config.AtimePolicy;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.store.Fsck;
import org.iomapfs.core.store.Mkfs;

import java.nio.file.Path;
import java.util.List;

/** The real engine: fs-core's IomapFs, Mkfs and Fsck. */
final class IomapEngine implements Engine {
    @Override
    public Opened open(Path image, long cacheBytes, AtimePolicy atime, boolean readOnly) {
        IomapFs fs = IomapFs.open(image, EngineConfig.defaults().withCacheBytes(cacheBytes).withAtime(atime)
            .withReadOnly(readOnly));
        return new Opened(fs, fs.controls());
    }

    @Override
    public void mkfs(Path image, long sizeBytes, int blockSize, boolean force) {
        Mkfs.format(image, sizeBytes, blockSize, force);
    }

    @Override
    public List<String> fsck(Path image) {
        return Fsck.check(image).problems();
    }
}
