package org.iomapfs.core.store;

import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.IgnoreError;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * sync_file_range(2) with SYNC_FILE_RANGE_WRITE on the image, through a read-only descriptor of its own (the call
 * acts on the file's page cache, whichever descriptor names it; the JDK's FileChannel has no such call). Absent
 * where libc or the call is (then {@link #open} returns null and writes wait for the image's fdatasync).
 */
final class HostSync implements AutoCloseable {
    /** The libc calls used here. */
    public interface LibC {
        @IgnoreError int open(String path, int flags);

        @IgnoreError int close(int fd);

        @IgnoreError int sync_file_range(int fd, long offset, long nbytes, int flags);
    }

    private static final int O_RDONLY_CLOEXEC = 02000000;
    private static final int SYNC_FILE_RANGE_WRITE = 2;
    private static volatile LibC libc;

    private final LibC c;
    /** -1 once closed: a second close must not close a descriptor number the process has since reused. */
    private final AtomicInteger fd;

    private HostSync(LibC c, int fd) {
        this.c = c;
        this.fd = new AtomicInteger(fd);
    }

    static HostSync open(Path image) {
        try {
            LibC l = libc;
            if (l == null) {
                l = libc = LibraryLoader.create(LibC.class).load("c");
            }
            int fd = l.open(image.toString(), O_RDONLY_CLOEXEC);
            if (fd < 0) {
                return null;
            }
            HostSync s = new HostSync(l, fd);
            if (l.sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0) {
                s.close();
                return null;
            }
            return s;
        } catch (LinkageError | RuntimeException e) {
            return null;
        }
    }

    /**
     * Starts writeback of the dirty host pages in the range without waiting for it; 0, or -1 for a range the
     * kernel refuses (an I/O error of the writes themselves surfaces at the next fdatasync).
     */
    int startWrite(long off, long len) {
        int f = fd.get();
        return f < 0 ? -1 : c.sync_file_range(f, off, len, SYNC_FILE_RANGE_WRITE);
    }

    @Override
    public void close() {
        int f = fd.getAndSet(-1);
        if (f >= 0) {
            c.close(f);
        }
    }
}
