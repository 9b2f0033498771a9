package org.iomapfs.fuse;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;

import java.nio.file.Path;
import java.util.List;

/** The real engine (fs-core's IomapFs, Mkfs and Fsck). */
final class IomapEngine implements Engine {
    private static FsException missing() {
        return new FsException(Errno.EOPNOTSUPP,
            "this build has no engine yet (org.iomapfs.core.IomapFs is not in fs-core); set -D" + PROPERTY
                + " to another engine class");
    }

    @Override
    public Opened open(Path image, long cacheBytes) { throw missing(); }

    @Override
    public void mkfs(Path image, long sizeBytes, int blockSize, boolean force) { throw missing(); }

    @Override
    public List<String> fsck(Path image) { throw missing(); }
}
