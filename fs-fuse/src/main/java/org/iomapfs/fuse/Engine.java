package org.iomapfs.fuse;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Vfs;

import java.nio.file.Path;
import java.util.List;

/**
 * The one place the daemon and the CLI construct an engine: open an image, format one, check one. The
 * default is the real engine ({@link IomapEngine}); the system property {@code iomapfs.engine} names another
 * implementation class (the tests' in-memory engine), which the background mount passes on to its daemon.
 */
public interface Engine {
    String PROPERTY = "iomapfs.engine";

    /** An opened image: the engine's two faces. */
    record Opened(Vfs vfs, Controls controls) { }

    Opened open(Path image, long cacheBytes);

    void mkfs(Path image, long sizeBytes, int blockSize, boolean force);

    /** Problems found, one line each; empty when the image is clean. */
    List<String> fsck(Path image);

    static Engine load() {
        String cls = System.getProperty(PROPERTY);
        if (cls == null || cls.isBlank()) {
            return new IomapEngine();
        }
        try {
            return (Engine) Class.forName(cls).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            throw new IllegalStateException("cannot load engine class " + cls + " (" + PROPERTY + "): " + e, e);
        }
    }
}
