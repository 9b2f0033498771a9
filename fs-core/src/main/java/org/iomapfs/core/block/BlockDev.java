package org.iomapfs.core.block;

/** The data image as the engine sees it: positional byte I/O plus a flush. Errors surface as FsException(EIO). */
public interface BlockDev {
    void read(long byteOffset, byte[] buf, int off, int len);

    void write(long byteOffset, byte[] buf, int off, int len);

    /**
     * Reads {@code dst.remaining()} bytes at {@code byteOffset} into {@code dst} and advances its position. A direct
     * buffer (the FUSE reply buffer of an O_DIRECT read) is filled by the read itself, with no array in between.
     */
    void read(long byteOffset, java.nio.ByteBuffer dst);

    /** Writes {@code src.remaining()} bytes at {@code byteOffset} and advances its position; direct buffers are not copied. */
    void write(long byteOffset, java.nio.ByteBuffer src);

    /**
     * Starts the device write of bytes [byteOffset, byteOffset + len) that {@link #write} left in the host's page
     * cache, without waiting for it (submit_bio: the bio goes to the device at once, where a pwrite only dirties
     * the host's cache until its own writeback or {@link #force}). Durability still comes from {@link #force}.
     */
    default void startWrite(long byteOffset, long len) { }

    /** Forces written data to stable storage (fdatasync of the image). */
    void force();
}
