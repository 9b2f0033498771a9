package org.iomapfs.fuse;

import java.nio.file.Path;

/**
 * Marks an image as in use by a daemon: an exclusive flock(2) on the image file, held from before the engine
 * opens the image until after it is closed. flock locks are independent of the fcntl locks Java's FileChannel
 * takes, so this does not interfere with anything the engine does; the kernel drops it if the daemon dies.
 */
public final class ImageLock implements AutoCloseable {
    private static final int EWOULDBLOCK = 11;
    private final int fd;

    private ImageLock(int fd) { this.fd = fd; }

    /** The lock, or null if another process holds it. Throws if the image cannot be opened. */
    public static ImageLock tryAcquire(Path image) {
        Native.LibC c = Native.libc();
        int fd = c.open(image.toString(), Native.O_RDONLY | Native.O_CLOEXEC);
        if (fd < 0) {
            int e = Native.errno();
            throw new IllegalStateException("cannot open image " + image + ": " + Native.strerror(e));
        }
        if (c.flock(fd, Native.LOCK_EX | Native.LOCK_NB) != 0) {
            int e = Native.errno();
            c.close(fd);
            if (e == EWOULDBLOCK) {
                return null;
            }
            throw new IllegalStateException("cannot lock image " + image + ": " + Native.strerror(e));
        }
        return new ImageLock(fd);
    }

    /** Whether no daemon holds the image now. */
    public static boolean isFree(Path image) {
        ImageLock l = tryAcquire(image);
        if (l == null) {
            return false;
        }
        l.close();
        return true;
    }

    @Override
    public void close() {
        Native.libc().close(fd);
    }
}
