package org.iomapfs.core.api;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * The path-based face of the engine that a FUSE daemon (or any other front end) drives. Every method
 * throws {@link FsException} with the errno to return; nothing else escapes except programming errors.
 * File handles are opaque numbers from {@link #open} and {@link #create}; a handle opened with
 * {@link OpenFlags#O_DIRECT} routes its reads and writes through direct I/O.
 */
public interface Vfs extends AutoCloseable {
    long ROOT_INO = 1;
    /** utimens: leave this time as it is. */
    long UTIME_OMIT = -2;
    /** utimens: set this time to now. */
    long UTIME_NOW = -1;

    FileAttr getattr(String path);

    FileAttr fgetattr(long fh);

    List<DirEntry> readdir(String path);

    void mkdir(String path, int mode, int uid, int gid);

    void rmdir(String path);

    /** Creates (or with O_EXCL refuses an existing) regular file and opens it. */
    long create(String path, int mode, int flags, int uid, int gid);

    long open(String path, int flags);

    /** Reads up to {@code dst.remaining()} bytes at {@code offset}; returns the count (0 at EOF). */
    int read(long fh, long offset, ByteBuffer dst);

    /** A write(2)/pwrite(2): buffered, or direct on an O_DIRECT handle. Returns the count written. */
    int write(long fh, long offset, ByteBuffer src);

    /**
     * A store through a shared mapping arriving as a page write (FUSE {@code writepage == 1}): the
     * page_mkwrite path makes the folio writable, then the data is copied into it.
     */
    int writePage(long fh, long offset, ByteBuffer src);

    void flush(long fh);

    void release(long fh);

    /** Writes back and waits, commits metadata, then reports the mapping's error once per handle (errseq). */
    void fsync(long fh, boolean datasync);

    void truncate(String path, long size);

    void ftruncate(long fh, long size);

    void unlink(String path);

    /** rename(2), replacing an existing target of a compatible type. */
    void rename(String from, String to);

    void link(String existing, String newPath);

    void symlink(String target, String linkPath, int uid, int gid);

    String readlink(String path);

    void chmod(String path, int mode);

    void chown(String path, int uid, int gid);

    /**
     * Clears the bits {@link SetId#toKill} names ({@code callerInGroupOrCapable} is asked about the file's group only
     * for a setgid file its group cannot execute), moving ctime if a bit went: what a FUSE server does when the
     * kernel leaves killing them to it (FUSE_HANDLE_KILLPRIV_V2). The kernel decides when (a write or truncate by a
     * caller without CAP_FSETID, a chown); this applies it. Whether a bit was cleared.
     */
    boolean killSuidSgid(String path, IntPredicate callerInGroupOrCapable);

    /** {@link #killSuidSgid(String, IntPredicate)} for an open file (one already unlinked included). */
    boolean killSuidSgid(long fh, IntPredicate callerInGroupOrCapable);

    /** Times in ns since the epoch, or {@link #UTIME_NOW} / {@link #UTIME_OMIT}. */
    void utimens(String path, long atimeNs, long mtimeNs);

    StatFs statfs();

    /**
     * mknod(2) of a FIFO, socket or device node ({@code type}); {@code rdev} is the device number of a device node.
     * Regular files come from {@link #create}.
     */
    default void mknod(String path, FileType type, int mode, long rdev, int uid, int gid) {
        throw new FsException(Errno.EOPNOTSUPP, "special files are not supported");
    }

    /** setxattr(2) flag: fail with EEXIST if the attribute exists. */
    int XATTR_CREATE = 1;
    /** setxattr(2) flag: fail with ENODATA if the attribute does not exist. */
    int XATTR_REPLACE = 2;

    /**
     * Extended attributes, by full name ({@code user.NAME}, {@code trusted.NAME}, {@code security.NAME}).
     * Errors as the kernel's: ENODATA for a missing attribute, EEXIST/ENODATA for the {@link #XATTR_CREATE} /
     * {@link #XATTR_REPLACE} conflicts, E2BIG for a value over 64 KiB, ERANGE for a name over 255 bytes,
     * EOPNOTSUPP for another namespace. An engine without them refuses every call with EOPNOTSUPP.
     */
    default void setxattr(String path, String name, byte[] value, int flags) {
        throw new FsException(Errno.EOPNOTSUPP, "extended attributes are not supported");
    }

    default byte[] getxattr(String path, String name) {
        throw new FsException(Errno.EOPNOTSUPP, "extended attributes are not supported");
    }

    default List<String> listxattr(String path) {
        throw new FsException(Errno.EOPNOTSUPP, "extended attributes are not supported");
    }

    default void removexattr(String path, String name) {
        throw new FsException(Errno.EOPNOTSUPP, "extended attributes are not supported");
    }

    /** fallocate(2) with a mode from {@link Falloc}; unsupported modes give EOPNOTSUPP. */
    void fallocate(long fh, int mode, long offset, long length);

    /** lseek(2) for SEEK_DATA and SEEK_HOLE (ENXIO past the last data / at or past EOF). */
    long lseek(long fh, long offset, int whence);

    /** sync(2): write back everything and commit metadata. */
    void sync();

    /** Writes back dirty data, then evicts every clean folio it can (echo 1 > drop_caches). */
    void dropCaches();

    /**
     * Registers whoever caches this engine's data in front of it, to be told of ranges the engine changed
     * behind its back (null: nobody). An engine that never does so may ignore it.
     */
    default void setCacheInvalidation(CacheInvalidation c) { }

    /**
     * A remount read-only (write back and commit, then refuse every change with EROFS) or read-write again; an
     * engine that cannot refuses with EOPNOTSUPP, one that cannot go back to read-write with EROFS.
     */
    default void setReadOnly(boolean readOnly) {
        throw new FsException(Errno.EOPNOTSUPP, "remount is not supported");
    }

    /** Flushes dirty data, commits metadata and closes the image. */
    @Override
    void close();
}
