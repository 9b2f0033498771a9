package org.iomapfs.core.block;

/** The data image as the engine sees it: positional byte I/O plus a flush. Errors surface as FsException(EIO). */
public interface BlockDev {
    void read(long byteOffset, byte[] buf, int off, int len);

    void write(long byteOffset, byte[] buf, int off, int len);

    /** Forces written data to stable storage (fdatasync of the image). */
    void force();
}
