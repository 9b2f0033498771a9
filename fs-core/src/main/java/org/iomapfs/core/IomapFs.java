package org.iomapfs.core;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.DirEntry;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.SetId;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.api.StatFs;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.control.EngineControls;
import org.iomapfs.core.dio.DirectIo;
import org.iomapfs.core.file.FileTable;
import org.iomapfs.core.file.OpenFile;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.inode.InodeCache;
import org.iomapfs.core.mm.UserMm;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.api.CacheInvalidation;
import org.iomapfs.core.namespace.Namespace;
import org.iomapfs.core.store.ImageDevice;
import org.iomapfs.core.store.MvMetaStore;
import org.iomapfs.core.store.Superblock;
import org.iomapfs.core.writeback.Writeback;
import org.iomapfs.core.xfs.XfsAops;
import org.iomapfs.core.xfs.XfsFileOps;
import org.iomapfs.core.xfs.XfsIomapOps;
import org.iomapfs.core.xattr.Xattrs;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * One mounted engine behind {@link Vfs}: the system calls of a front end, resolved to open files, inodes and
 * the fs-side file operations. {@link #open} wires it ({@link EngineBuilder}); {@link #controls} are its
 * control keys and {@link #mm} its in-process user mappings.
 */
public final class IomapFs implements Vfs {
    private final ImageDevice dev;
    private final MvMetaStore store;
    private final FsContext ctx;
    private final InodeCache inodes;
    private final FileTable handles;
    private final Namespace ns;
    private final Writeback writeback;
    private final XfsIomapOps ops;
    private final XfsFileOps files;
    private final DirectIo dio;
    private final Controls controls;
    private final UserMm mm;
    private final Xattrs xattrs;
    private volatile boolean closed;

    IomapFs(EngineBuilder.Parts p) {
        this.dev = p.dev();
        this.store = p.store();
        this.ctx = p.ctx();
        this.inodes = p.inodes();
        this.handles = p.files();
        this.ns = p.ns();
        this.writeback = p.writeback();
        this.ops = p.ops();
        this.files = p.fops();
        this.dio = p.dio();
        this.controls = new EngineControls(ctx, this);
        this.mm = new UserMm(ctx, handles, files, ops, dio);
        this.xattrs = new Xattrs(store);
    }

    /** Opens (mounts) an image made by {@link org.iomapfs.core.store.Mkfs}, freeing its orphans. */
    public static IomapFs open(Path image, EngineConfig config) {
        return EngineBuilder.open(image, config);
    }

    /** The control keys of this engine (the mount's {@code /.iomapfs/}). */
    public Controls controls() { return controls; }

    /** In-process mmap(2), and read(2)/write(2) with a mapping as the buffer. */
    public UserMm mm() { return mm; }

    // --- for tests and tools ---------------------------------------------------------------------

    public FsContext context() { return ctx; }

    public Writeback writeback() { return writeback; }

    public Inode inode(String path) { return ns.resolve(path); }

    public Inode inodeOf(long fh) { return handles.get(fh).inode; }

    /** Closes without writeback or commit, as a killed process would (tests abandoning a wedged engine). */
    public void crashForTest() {
        closed = true;
        store.crash();
        dev.close();
    }

    // --- Vfs -------------------------------------------------------------------------------------

    @Override
    public FileAttr getattr(String path) { return ns.resolve(path).attr(); }

    @Override
    public FileAttr fgetattr(long fh) { return handles.get(fh).inode.attr(); }

    /** getdents: iterate_dir (fs/readdir.c) calls file_accessed on the directory after listing it. */
    @Override
    public List<DirEntry> readdir(String path) {
        List<DirEntry> entries = ns.readdir(path);
        Inode dir = ns.resolve(path);
        if (ctx.accessed(dir)) {
            store.update(() -> dir.persist(store));
        }
        return entries;
    }

    /**
     * mnt_want_write on a read-only mount: EROFS for any change. The kernel refuses these first (the FUSE mount
     * has MS_RDONLY); this is the daemon's own check, so nothing reaches the image either way.
     */
    private void checkWritable(String what) {
        if (ctx.readOnly()) {
            throw new FsException(Errno.EROFS, what + ": read-only file system");
        }
    }

    /** Whether changes are refused with EROFS (a read-only mount, or one remounted read-only). */
    public boolean readOnly() { return ctx.readOnly(); }

    /**
     * remount: read-only writes back and commits everything first (xfs_remount_ro syncs), then refuses every
     * change; read-write again only when the image was opened read-write (a read-only mount never opened it so).
     */
    @Override
    public void setReadOnly(boolean ro) {
        if (ro == ctx.readOnly()) {
            return;
        }
        if (!ro && ctx.config.readOnly()) {
            throw new FsException(Errno.EROFS, "the image was opened read-only: unmount and mount it read-write");
        }
        if (ro) {
            sync();
        }
        ctx.setReadOnly(ro);
    }

    @Override
    public void mkdir(String path, int mode, int uid, int gid) {
        checkWritable("mkdir " + path);
        ns.create(path, FileType.DIRECTORY, mode, uid, gid, null);
    }

    @Override
    public void rmdir(String path) {
        checkWritable("rmdir " + path);
        ns.rmdir(path);
    }

    @Override
    public long create(String path, int mode, int flags, int uid, int gid) {
        checkWritable("create " + path);
        while (true) {
            ns.lock.writeLock().lock();
            try {
                return openInode(ns.create(path, FileType.REGULAR, mode, uid, gid, null), flags);
            } catch (FsException e) {
                if (e.errno() != Errno.EEXIST || (flags & OpenFlags.O_EXCL) != 0) {
                    throw e;
                }
            } finally {
                ns.lock.writeLock().unlock();
            }
            try {
                return open(path, flags);
            } catch (FsException e) {
                if (e.errno() != Errno.ENOENT) {
                    throw e;
                }
                // the existing name went between the two steps: create it after all, as O_CREAT would
            }
        }
    }

    /** Opens under the namespace lock; an O_TRUNC truncation runs after it, holding only the open file. */
    @Override
    public long open(String path, int flags) {
        if (OpenFlags.canWrite(flags) || (flags & OpenFlags.O_TRUNC) != 0) {
            checkWritable("open " + path + " for writing");
        }
        Inode in;
        long fh;
        ns.lock.writeLock().lock();
        try {
            in = ns.resolve(path);
            if (in.type == FileType.DIRECTORY && OpenFlags.canWrite(flags)) {
                throw new FsException(Errno.EISDIR, path + ": is a directory");
            }
            fh = openInode(in, flags);
        } finally {
            ns.lock.writeLock().unlock();
        }
        if (!OpenFlags.canWrite(flags) && (flags & O_NOATIME) == 0 && in.type == FileType.REGULAR
                && ctx.accessed(in)) {
            // A FUSE inode is S_NOATIME and reads the kernel's page cache holds never reach the daemon, so
            // file_accessed cannot happen here for them: a read-only open stands for the read it precedes.
            // The mount's atime policy (relatime by default) decides whether it moves atime.
            store.update(() -> in.persist(store));
        }
        if ((flags & OpenFlags.O_TRUNC) != 0 && OpenFlags.canWrite(flags) && in.type == FileType.REGULAR) {
            try {
                files.truncate(in, 0);
            } catch (RuntimeException e) {
                release(fh);
                throw e;
            }
        }
        return fh;
    }

    /** O_NOATIME (asm-generic/fcntl.h): the opener asked not to update atime. */
    private static final int O_NOATIME = 01000000;

    private long openInode(Inode in, int flags) {
        in.openCount++;
        return handles.install(in, flags);
    }

    @Override
    public int read(long fh, long offset, ByteBuffer dst) {
        OpenFile h = handles.get(fh);
        Inode in = h.regular("read");
        ctx.hooks.fire(HookPoint.READ_BEGIN, in, offset);
        if (offset < 0) {
            throw new FsException(Errno.EINVAL, "negative offset " + offset);
        }
        return h.isDirect() ? dio.read(in, offset, dst, ops.read) : files.read(in, h.ra, offset, dst);
    }

    @Override
    public int write(long fh, long offset, ByteBuffer src) {
        checkWritable("write");
        OpenFile h = handles.get(fh);
        Inode in = handles.forWrite(h, offset, src.remaining(), "write");
        return h.isDirect() ? dio.write(in, offset, src, ops.directWrite) : (int) files.write(in, offset, src);
    }

    @Override
    public int writePage(long fh, long offset, ByteBuffer src) {
        checkWritable("writepage");
        Inode in = handles.forWrite(handles.get(fh), offset, src.remaining(), "writepage");
        return files.pageWrite(in, offset, src);
    }

    @Override
    public void flush(long fh) { handles.get(fh); }

    @Override
    public void release(long fh) {
        Inode gone = null;
        ns.lock.writeLock().lock();
        try {
            OpenFile h = handles.remove(fh);
            h.inode.openCount--;
            if (h.inode.openCount == 0 && h.inode.nlink() == 0) {
                gone = h.inode;
            }
        } finally {
            ns.lock.writeLock().unlock();
        }
        if (gone != null) {
            inodes.evict(gone);
        }
    }

    @Override
    public void fsync(long fh, boolean datasync) {
        OpenFile h = handles.get(fh);
        Inode in = h.inode;
        writeback.writeAndWait(in, 0, Long.MAX_VALUE);
        in.mapping.maybeClean();
        if (datasync) {
            ctx.commitForDatasync();
        } else {
            ctx.commit(true);
        }
        int err = h.checkAndAdvanceWbErr();
        if (err != 0) {
            throw new FsException(Errno.EIO, "writeback of inode " + in.ino + " failed since the last fsync of this file");
        }
    }

    @Override
    public void truncate(String path, long size) {
        checkWritable("truncate " + path);
        files.truncate(OpenFile.regular(ns.resolve(path), path), size);
    }

    @Override
    public void ftruncate(long fh, long size) {
        checkWritable("ftruncate");
        files.truncate(handles.get(fh).regular("ftruncate"), size);
    }

    @Override
    public void unlink(String path) {
        checkWritable("unlink " + path);
        ns.unlink(path);
    }

    @Override
    public void rename(String from, String to) {
        checkWritable("rename " + from);
        ns.rename(from, to);
    }

    @Override
    public void link(String existing, String newPath) {
        checkWritable("link " + existing);
        ns.link(existing, newPath);
    }

    @Override
    public void symlink(String target, String linkPath, int uid, int gid) {
        checkWritable("symlink " + linkPath);
        if (target.isEmpty() || target.length() > 4095) {
            throw new FsException(Errno.ENAMETOOLONG, "symlink target length " + target.length() + " not in 1..4095");
        }
        ns.create(linkPath, FileType.SYMLINK, 0777, uid, gid, target);
    }

    @Override
    public String readlink(String path) {
        Inode in = ns.resolve(path);
        if (in.type != FileType.SYMLINK) {
            throw new FsException(Errno.EINVAL, path + ": not a symbolic link");
        }
        return in.symlinkTarget;
    }

    @Override
    public void chmod(String path, int mode) {
        checkWritable("chmod " + path);
        Inode in = ns.resolve(path);
        in.setMode(mode & 07777);
        store.update(() -> in.persist(store));
    }

    @Override
    public void chown(String path, int uid, int gid) {
        checkWritable("chown " + path);
        Inode in = ns.resolve(path);
        in.setOwner(uid, gid);
        store.update(() -> in.persist(store));
    }

    @Override
    public boolean killSuidSgid(String path, IntPredicate inGroupOrCapable) {
        return killSuidSgid(ns.resolve(path), path, inGroupOrCapable);
    }

    @Override
    public boolean killSuidSgid(long fh, IntPredicate inGroupOrCapable) {
        return killSuidSgid(handles.get(fh).inode, "an open file", inGroupOrCapable);
    }

    private boolean killSuidSgid(Inode in, String what, IntPredicate inGroupOrCapable) {
        int mode = in.mode();
        if (!SetId.any(mode)) {
            return false;
        }
        checkWritable("clearing setuid/setgid of " + what);
        // asked outside the inode's monitor: the caller's groups come from /proc
        boolean outside = SetId.nonExecSgid(mode) && !inGroupOrCapable.test(in.gid());
        if (!in.killSuidSgid(outside)) {
            return false;
        }
        store.update(() -> in.persist(store));
        return true;
    }

    @Override
    public void utimens(String path, long atimeNs, long mtimeNs) {
        checkWritable("utimens " + path);
        Inode in = ns.resolve(path);
        FileAttr a = in.attr();
        long now = Inode.now();
        long at = atimeNs == UTIME_NOW ? now : atimeNs == UTIME_OMIT ? a.atimeNs() : atimeNs;
        long mt = mtimeNs == UTIME_NOW ? now : mtimeNs == UTIME_OMIT ? a.mtimeNs() : mtimeNs;
        in.setTimes(at, mt);
        store.update(() -> in.persist(store));
    }

    @Override
    public void mknod(String path, FileType type, int mode, long rdev, int uid, int gid) {
        checkWritable("mknod " + path);
        if (type != FileType.FIFO && type != FileType.SOCKET && type != FileType.CHARDEV && type != FileType.BLOCKDEV) {
            throw new FsException(Errno.EINVAL, path + ": mknod makes FIFOs, sockets and device nodes, not " + type);
        }
        boolean device = type == FileType.CHARDEV || type == FileType.BLOCKDEV;
        ns.create(path, type, mode, uid, gid, null, device ? rdev : 0);
    }

    @Override
    public void setxattr(String path, String name, byte[] value, int flags) {
        checkWritable("setxattr " + path);
        xattrs.set(ns.resolve(path), name, value, flags);
    }

    @Override
    public byte[] getxattr(String path, String name) { return xattrs.get(ns.resolve(path), name); }

    @Override
    public List<String> listxattr(String path) { return xattrs.list(ns.resolve(path)); }

    @Override
    public void removexattr(String path, String name) {
        checkWritable("removexattr " + path);
        xattrs.remove(ns.resolve(path), name);
    }

    @Override
    public StatFs statfs() {
        Superblock sb = store.superblock();
        long avail = Math.max(0, ctx.alloc.available());
        return new StatFs(sb.blockSize(), ctx.alloc.dataBlocks(), avail, avail, inodes.size() + 1_000_000L, 1_000_000L,
                Namespace.NAME_MAX);
    }

    @Override
    public void fallocate(long fh, int mode, long offset, long length) {
        checkWritable("fallocate");
        OpenFile h = handles.get(fh);
        h.checkWritable();
        files.fallocate(h.regular("fallocate"), mode, offset, length);
    }

    @Override
    public long lseek(long fh, long offset, int whence) {
        return files.seek(handles.get(fh).regular("lseek"), offset, whence);
    }

    @Override
    public void sync() {
        writeback.writebackAll(true);
        ctx.commit(true);
    }

    @Override
    public void dropCaches() {
        writeback.writebackAll(true);
        ctx.cache.dropClean();
    }

    @Override
    public void setCacheInvalidation(CacheInvalidation c) { ctx.setCacheInvalidation(c); }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        writeback.close();
        ctx.inject.close();
        ctx.commit(true);
        store.close();
        dev.close();
    }
}
