package org.iomapfs.shim.sys;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The libc calls Java does not offer: {@code fallocate(2)} (no Java API at all) and an extending
 * {@code ftruncate(2)} ({@code FileChannel.truncate} only shrinks). They act on a plain {@code O_RDWR} descriptor
 * of the same file, which is enough: both are inode operations, whichever descriptor carries them.
 */
public final class LibC {
    /** linux/falloc.h */
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    public static final int EOPNOTSUPP = 95;

    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 02000000;

    public interface Api {
        int open(String path, int flags, int mode);

        int close(int fd);

        int ftruncate(int fd, long length);

        int fallocate(int fd, int mode, long offset, long len);

        String strerror(int errnum);
    }

    private static volatile Api api;

    private LibC() { }

    static Api api() {
        Api a = api;
        if (a == null) {
            synchronized (LibC.class) {
                if (api == null) {
                    api = LibraryLoader.create(Api.class).load("c");
                }
                a = api;
            }
        }
        return a;
    }

    /** errno of the last failed call on this thread. */
    public static int errno() {
        return Runtime.getRuntime(api()).getLastError();
    }

    /** A libc descriptor of a file, closed by {@link #close}. */
    public static final class Fd implements AutoCloseable {
        public final int fd;
        private final Path path;

        private Fd(int fd, Path path) {
            this.fd = fd;
            this.path = path;
        }

        /** open(path, O_RDWR | O_CLOEXEC): the file must exist. */
        public static Fd openReadWrite(Path path) throws IOException {
            int fd = api().open(path.toString(), O_RDWR | O_CLOEXEC, 0);
            if (fd < 0) {
                throw error("open " + path, errno());
            }
            return new Fd(fd, path);
        }

        public void ftruncate(long length) throws IOException {
            if (api().ftruncate(fd, length) != 0) {
                throw error("ftruncate " + path + " to " + length, errno());
            }
        }

        /** fallocate(2); a failure throws {@link ErrnoException} carrying errno (EOPNOTSUPP for a mode not supported). */
        public void fallocate(int mode, long offset, long len) throws IOException {
            if (api().fallocate(fd, mode, offset, len) != 0) {
                throw error("fallocate " + path + " mode 0x" + Integer.toHexString(mode) + " offset " + offset
                    + " len " + len, errno());
            }
        }

        @Override
        public void close() throws IOException {
            if (api().close(fd) != 0) {
                throw error("close " + path, errno());
            }
        }
    }

    /** An I/O error with its errno. */
    public static final class ErrnoException extends IOException {
        public final int errno;

        ErrnoException(String what, int errno) {
            super(what + ": " + api().strerror(errno) + " (errno " + errno + ")");
            this.errno = errno;
        }
    }

    static ErrnoException error(String what, int errno) {
        return new ErrnoException(what, errno);
    }
}
