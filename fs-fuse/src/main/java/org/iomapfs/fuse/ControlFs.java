package org.iomapfs.fuse;

import jnr.ffi.Pointer;
import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.fuse.HandleTable.Handle;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.struct.FileStat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntSupplier;

import static org.iomapfs.fuse.FuseErrno.EACCES;
import static org.iomapfs.fuse.FuseErrno.EBADF;
import static org.iomapfs.fuse.FuseErrno.EEXIST;
import static org.iomapfs.fuse.FuseErrno.EINVAL;
import static org.iomapfs.fuse.FuseErrno.EISDIR;
import static org.iomapfs.fuse.FuseErrno.ENOENT;
import static org.iomapfs.fuse.FuseErrno.EOPNOTSUPP;
import static org.iomapfs.fuse.FuseErrno.EPERM;
import static org.iomapfs.fuse.FuseErrno.ERANGE;

/**
 * The control directory {@code /.iomapfs/}: the engine's {@link Controls} as files ({@link ControlTree}; plus
 * {@code last_error}, {@link ControlErrors}). Reading a file returns {@code Controls.read}, writing it calls
 * {@code Controls.write} (a bad value fails that write(2) and changes nothing); read-only keys are mode 0444,
 * and only the uid that started the daemon may write. Nothing can be created, removed, renamed or linked in it.
 */
final class ControlFs implements NodeOps {
    private final Controls controls;
    private final IntSupplier callerUid;
    private final int ownerUid;
    private final int ownerGid;
    private final long mountTimeNs = System.currentTimeMillis() * 1_000_000L;
    private volatile ControlTree controlTree;

    /** {@code callerPid} and {@code callerUid}: the request's (fuse_get_context). */
    ControlFs(Controls engine, IntSupplier callerPid, IntSupplier callerUid, int ownerUid, int ownerGid) {
        // last_error: the engine's message of a failed control write, which FUSE reduces to an errno
        this.controls = new ControlErrors(engine, callerPid);
        this.callerUid = callerUid;
        this.ownerUid = ownerUid;
        this.ownerGid = ownerGid;
        this.controlTree = ControlTree.build(controls.keys());
    }

    /** The tree of the current keys (rebuilt when the engine's key list changed). */
    private ControlTree tree() {
        List<String> keys = controls.keys();
        ControlTree t = controlTree;
        if (!t.keys().equals(keys)) {
            t = ControlTree.build(keys);
            controlTree = t;
        }
        return t;
    }

    private ControlTree.Node node(String path) {
        ControlTree.Node n = tree().lookup(path);
        if (n == null) {
            throw new FsException(Errno.ENOENT, "no control file " + path);
        }
        return n;
    }

    /** Changing an existing control node: ENOENT if there is none, else EPERM. */
    private int refuseChange(String path) {
        return tree().lookup(path) == null ? -ENOENT : -EPERM;
    }

    /** Creating a name in the control directory: EEXIST for an existing one, else EACCES. */
    private int refuseCreate(String path) {
        return path.equals(ControlTree.ROOT) || tree().lookup(path) != null ? -EEXIST : -EACCES;
    }

    /** Only the mount's owner may change knobs, and only writable ones. */
    private int writeCheck(ControlTree.Node n, int uid) {
        if (uid != ownerUid) {
            return -EACCES;
        }
        return controls.writable(n.key()) ? 0 : -EACCES;
    }

    private void fill(FileStat st, ControlTree.Node n) {
        if (n.isDir()) {
            st.st_mode.set(FileType.DIRECTORY.ifmt | 0555);
            st.st_nlink.set(2);
            st.st_size.set(0);
        } else {
            st.st_mode.set(FileType.REGULAR.ifmt | (controls.writable(n.key()) ? 0644 : 0444));
            st.st_nlink.set(1);
            st.st_size.set(controls.read(n.key()).getBytes(StandardCharsets.UTF_8).length);
        }
        st.st_ino.set(n.ino());
        st.st_uid.set(ownerUid);
        st.st_gid.set(ownerGid);
        st.st_blksize.set(4096);
        FuseStructs.setTimes(st, mountTimeNs, mountTimeNs, mountTimeNs);
    }

    // ------------------------------------------------------------ by path

    @Override
    public int getattr(String path, FileStat st) {
        fill(st, node(path));
        return 0;
    }

    @Override
    public int readlink(String path, Pointer buf, long size) {
        return tree().lookup(path) == null ? -ENOENT : -EINVAL;
    }

    @Override
    public int mkdir(String path, int mode, int uid, int gid) { return refuseCreate(path); }

    @Override
    public int mknod(String path, int mode, long rdev, int uid, int gid) { return refuseCreate(path); }

    @Override
    public int rmdir(String path) { return refuseChange(path); }

    @Override
    public int unlink(String path) { return refuseChange(path); }

    @Override
    public int symlink(String target, String linkPath, int uid, int gid) { return refuseCreate(linkPath); }

    @Override
    public int rename(String from, String to) { return -EPERM; }

    @Override
    public int link(String existing, String newPath) {
        return ControlTree.isControlPath(existing) ? -EPERM : refuseCreate(newPath);
    }

    @Override
    public int chmod(String path, int mode) { return refuseChange(path); }

    @Override
    public int chown(String path, int uid, int gid) { return refuseChange(path); }

    @Override
    public int truncate(String path, long size) {
        ControlTree.Node n = node(path);
        // open(O_TRUNC) of a control file: allowed to whoever may write it; the value changes on write
        return n.isDir() ? -EISDIR : writeCheck(n, callerUid.getAsInt());
    }

    @Override
    public int utimens(String path, long atimeNs, long mtimeNs) { return refuseChange(path); }

    @Override
    public int access(String path, int mask, int uid, int gid) {
        ControlTree.Node n = node(path);
        if ((mask & Access.W_OK) != 0) {
            return n.isDir() ? -EACCES : writeCheck(n, uid);
        }
        return (mask & Access.X_OK) != 0 && !n.isDir() ? -EACCES : 0;
    }

    // control files carry no extended attributes and take none (ls, cp -a and SELinux-aware tools ask)
    @Override public int setxattr(String path, String name, byte[] value, int flags) { return -EOPNOTSUPP; }
    @Override public int getxattr(String path, String name, Pointer value, long size) { return -FuseErrno.ENODATA; }
    @Override public int listxattr(String path, Pointer list, long size) { return 0; }
    @Override public int removexattr(String path, String name) { return -FuseErrno.ENODATA; }

    @Override
    public Handle opendir(String path, Pointer fi) {
        ControlTree.Node n = node(path);
        if (!n.isDir()) {
            throw new FsException(Errno.ENOTDIR, path + " is a control file");
        }
        return new Handle(-1, 0, path, n);
    }

    @Override
    public Handle open(String path, Pointer fi) {
        ControlTree.Node n = node(path);
        if (n.isDir()) {
            throw new FsException(Errno.EISDIR, path + " is a control directory");
        }
        int flags = RawFileInfo.flags(fi);
        if (OpenFlags.canWrite(flags) && writeCheck(n, callerUid.getAsInt()) != 0) {
            throw new FsException(Errno.EACCES, "only the mount's owner may write " + path + ", if it is writable");
        }
        Handle h = new Handle(-1, flags, null, n);
        if ((flags & OpenFlags.O_ACCMODE) != OpenFlags.O_WRONLY) {
            h.snapshot = controls.read(n.key()).getBytes(StandardCharsets.UTF_8);
        }
        RawFileInfo.setDirectIo(fi); // values change under the kernel; never cache them, ignore st_size
        return h;
    }

    @Override
    public Handle create(String path, int mode, Pointer fi, int uid, int gid) {
        ControlTree.Node n = tree().lookup(path);
        if (n != null && !n.isDir() && (RawFileInfo.flags(fi) & OpenFlags.O_EXCL) == 0) {
            return open(path, fi);
        }
        int rc = refuseCreate(path);
        throw new FsException(rc == -EEXIST ? Errno.EEXIST : Errno.EACCES, "cannot create " + path);
    }

    // ------------------------------------------------------------ by handle

    @Override
    public int fgetattr(Handle h, FileStat st) {
        fill(st, h.control);
        return 0;
    }

    @Override
    public int readdir(Handle h, Pointer buf, FuseFillDir filler) {
        for (String child : h.control.children()) {
            if (filler.apply(buf, child, null, 0) != 0) {
                return -ERANGE;
            }
        }
        return 0;
    }

    @Override
    public int read(Handle h, Pointer buf, long size, long offset) {
        byte[] v = h.snapshot;
        if (v == null) {
            return -EBADF; // opened write-only
        }
        if (offset >= v.length) {
            return 0;
        }
        int n = (int) Math.min(size, v.length - offset);
        buf.put(0, v, (int) offset, n);
        return n;
    }

    /** Applies what this handle has written so far, so that a bad value fails the write(2) that sent it. */
    @Override
    public int write(Handle h, Pointer buf, long size, long offset, boolean writepage) {
        if (!OpenFlags.canWrite(h.openFlags)) {
            return -EBADF;
        }
        if (offset < 0 || offset > 65536) {
            return -EINVAL;
        }
        synchronized (h) {
            int n = (int) size;
            byte[] data = new byte[n];
            buf.get(0, data, 0, n);
            byte[] all = Arrays.copyOf(h.written, Math.max(h.written.length, (int) offset + n));
            System.arraycopy(data, 0, all, (int) offset, n);
            controls.write(h.control.key(), new String(all, StandardCharsets.UTF_8).strip());
            h.written = all;
            return n;
        }
    }

    @Override
    public int flush(Handle h) { return 0; }

    @Override
    public int release(Handle h) { return 0; }

    @Override
    public int fsync(Handle h, boolean datasync) { return 0; }

    /** The handle was opened for writing, so the caller was already checked; the value changes on write. */
    @Override
    public int ftruncate(Handle h, long size) { return 0; }

    @Override
    public int fallocate(Handle h, int mode, long offset, long length) { return -EOPNOTSUPP; }
}
