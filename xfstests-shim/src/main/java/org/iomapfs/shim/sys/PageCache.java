package org.iomapfs.shim.sys;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** The kernel page cache in front of the daemon, and buffers that O_DIRECT accepts. */
public final class PageCache {
    /** What the mount's O_DIRECT needs: offsets, lengths and buffer addresses aligned to the page size. */
    public static final int DIO_ALIGN = 4096;

    private PageCache() { }

    /**
     * echo 3 > /proc/sys/vm/drop_caches: afterwards a read of a clean page goes to the daemon. Needs root; throws
     * when the kernel refuses. Dirty pages are not dropped: fsync or msync first.
     */
    public static void dropKernelCaches() throws IOException {
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
    }

    /** A direct buffer of {@code size} bytes whose address is a multiple of {@link #DIO_ALIGN}. */
    public static ByteBuffer alignedBuffer(int size) {
        int whole = (size + DIO_ALIGN - 1) & -DIO_ALIGN;
        return ByteBuffer.allocateDirect(whole + DIO_ALIGN).alignedSlice(DIO_ALIGN).limit(size).slice();
    }
}
