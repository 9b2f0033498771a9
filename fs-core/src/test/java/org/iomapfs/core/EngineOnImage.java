package org.iomapfs.core;

import java.nio.file.Path;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * An engine on a fresh 64 MiB image of 4 KiB blocks in a temporary directory, without the periodic flusher (so a
 * test decides when writeback runs), closed after each test: the setup the namespace and timestamp tests share.
 */
public abstract class EngineOnImage {
    @TempDir
    protected Path dir;
    protected IomapFs fs;

    @AfterEach
    void closeEngine() {
        if (fs != null) {
            fs.close();
        }
    }

    /** Formats the image and mounts it. */
    protected IomapFs format() {
        Mkfs.format(dir.resolve("img"), 64 << 20, 4096, true);
        return mount();
    }

    /** Opens the image (again, after a {@code fs.close()}: a remount). */
    protected IomapFs mount() {
        fs = IomapFs.open(dir.resolve("img"), EngineConfig.defaults().withWritebackIntervalMs(0));
        return fs;
    }
}
