package org.iomapfs.core.file;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.inode.Inode;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The open files of one engine by handle (the file table a front end's handles index). Open counts on the
 * inodes are the caller's: it changes them under the namespace lock, with link counts.
 */
public final class FileTable {
    private final Map<Long, OpenFile> files = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private final long maxFileBytes;

    /** @param maxFileBytes the largest file offset a write may reach (s_maxbytes) */
    public FileTable(long maxFileBytes) {
        this.maxFileBytes = maxFileBytes;
    }

    /** Installs a new open file and returns its handle. */
    public long install(Inode in, int flags) {
        long fh = nextFh.getAndIncrement();
        files.put(fh, new OpenFile(in, flags));
        return fh;
    }

    /** The open file, or EBADF. */
    public OpenFile get(long fh) {
        OpenFile f = files.get(fh);
        if (f == null) {
            throw noFile(fh);
        }
        return f;
    }

    /** Removes and returns the open file, or EBADF. */
    public OpenFile remove(long fh) {
        OpenFile f = files.remove(fh);
        if (f == null) {
            throw noFile(fh);
        }
        return f;
    }

    private static FsException noFile(long fh) {
        return new FsException(Errno.EBADF, "no open file with handle " + fh);
    }

    /**
     * The regular file behind a handle that a write of {@code len} bytes at {@code offset} may go to
     * (generic_write_checks): EBADF unless open for writing, EINVAL for a negative range, EFBIG past s_maxbytes.
     */
    public Inode forWrite(OpenFile f, long offset, long len, String what) {
        Inode in = f.regular(what);
        f.checkWritable();
        if (offset < 0 || offset + len < 0) {
            throw new FsException(Errno.EINVAL, "bad offset " + offset);
        }
        if (offset + len > maxFileBytes) {
            throw new FsException(Errno.EFBIG, "write past " + maxFileBytes + " bytes (16x the image size)");
        }
        return in;
    }
}
