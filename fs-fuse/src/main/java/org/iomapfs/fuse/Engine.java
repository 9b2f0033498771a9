package org.iomapfs.fuse;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.config.AtimePolicy;

import java.nio.file.Path;
import java.util.List;

/**
 * The one place the daemon and the CLI construct an engine: open an image, format one, check one
 * ({@link IomapEngine}, fs-core's). The binding's in-memory floor ({@code floor.FloorVfs}) has no image and is
 * mounted without one.
 */
public interface Engine {
    /** An opened image: the engine's two faces. */
    record Opened(Vfs vfs, Controls controls) { }

    /** Opens {@code image} with the mount's atime policy; {@code readOnly} leaves its bytes as they are. */
    Opened open(Path image, long cacheBytes, AtimePolicy atime, boolean readOnly);

    void mkfs(Path image, long sizeBytes, int blockSize, boolean force);

    /** Problems found, one line each; empty when the image is clean. */
    List<String> fsck(Path image);

    static Engine load() {
        return new IomapEngine();
    }
}
