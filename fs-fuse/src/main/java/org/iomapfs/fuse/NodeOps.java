package org.iomapfs.fuse;

import jnr.ffi.Pointer;
import org.iomapfs.fuse.HandleTable.Handle;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.struct.FileStat;

import java.util.function.IntPredicate;

/**
 * What one kind of node does with each FUSE request, as the kernel's {@code inode_operations} and
 * {@code file_operations}: the engine's files ({@link EngineOps}) or the control directory ({@link ControlFs}).
 * {@link FuseMount} picks the implementation once per request, by path or by handle, and handles the rest
 * (handle table, errno mapping, the watchdog's request slot). Operations return 0 (or a byte count) or a
 * negated errno; they may also throw {@code FsException}, which becomes its errno.
 */
interface NodeOps {
    // ------------------------------------------------------------ by path

    int getattr(String path, FileStat st);

    int readlink(String path, Pointer buf, long size);

    int mkdir(String path, int mode, int uid, int gid);

    /** A FIFO, socket or device node: {@code mode} carries the type bits (S_IFMT) and the permissions. */
    int mknod(String path, int mode, long rdev, int uid, int gid);

    int rmdir(String path);

    int unlink(String path);

    int symlink(String target, String linkPath, int uid, int gid);

    /** Chosen by either path: the control directory's when one of them is inside it. */
    int rename(String from, String to);

    /** Chosen by either path, as {@link #rename}. */
    int link(String existing, String newPath);

    int chmod(String path, int mode);

    int chown(String path, int uid, int gid);

    int truncate(String path, long size);

    int utimens(String path, long atimeNs, long mtimeNs);

    int access(String path, int mask, int uid, int gid);

    /** setxattr(2): {@code value} holds {@code size} bytes; flags XATTR_CREATE / XATTR_REPLACE. */
    int setxattr(String path, String name, byte[] value, int flags);

    /** getxattr(2): with {@code size} 0 the value's length; ERANGE if it does not fit in {@code size}. */
    int getxattr(String path, String name, Pointer value, long size);

    /** listxattr(2): the names, each NUL-terminated; sizes as {@link #getxattr}. */
    int listxattr(String path, Pointer list, long size);

    int removexattr(String path, String name);

    /** The handle to register for an opened directory; errors are thrown. */
    Handle opendir(String path, Pointer fi);

    /** The handle to register for an opened file; may set open flags in {@code fi}; errors are thrown. */
    Handle open(String path, Pointer fi);

    Handle create(String path, int mode, Pointer fi, int uid, int gid);

    // ------------------------------------------------------------ by handle

    int fgetattr(Handle h, FileStat st);

    /** The entries after "." and "..", which the caller has filled. */
    int readdir(Handle h, Pointer buf, FuseFillDir filler);

    int read(Handle h, Pointer buf, long size, long offset);

    /** {@code writepage}: the kernel writes back a MAP_SHARED store (fuse_file_info.writepage). */
    int write(Handle h, Pointer buf, long size, long offset, boolean writepage);

    int flush(Handle h);

    int release(Handle h);

    int fsync(Handle h, boolean datasync);

    int ftruncate(Handle h, long size);

    int fallocate(Handle h, int mode, long offset, long length);

    /**
     * Clears setuid and setgid of the file at {@code path} as {@link org.iomapfs.core.api.Vfs#killSuidSgid} says: the server's part of
     * FUSE_HANDLE_KILLPRIV_V2 ({@link KillPrivV2}); whether a bit was cleared. Nothing by default: control nodes
     * never carry those bits.
     */
    default boolean killSuidSgid(String path, IntPredicate callerInGroupOrCapable) { return false; }

    /** {@link #killSuidSgid(String, IntPredicate)} for an open file. */
    default boolean killSuidSgid(Handle h, IntPredicate callerInGroupOrCapable) { return false; }

    /** Whether the open file has S_ISUID or S_ISGID set. */
    default boolean hasSuidSgid(Handle h) { return false; }
}
