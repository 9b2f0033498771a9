package org.iomapfs.fuse;

import jnr.ffi.Pointer;
import org.iomapfs.core.api.DirEntry;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.SetId;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.fuse.HandleTable.Handle;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.struct.FileStat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.function.IntPredicate;

import static org.iomapfs.fuse.FuseErrno.ERANGE;

/**
 * The engine's files: each request goes to the {@link Vfs} method of the same name. Reads and writes go to
 * the handle the engine opened with the caller's flags (O_DIRECT included), a MAP_SHARED store written back by
 * the kernel to {@link Vfs#writePage}.
 */
final class EngineOps implements NodeOps {
    private final Vfs vfs;
    /** The other names' cached attributes to invalidate after a link count change; null without the pool loop. */
    private volatile HardLinkAttrs linkAttrs;
    /** Tells the kernel an open moved atime; null without the pool loop. */
    private volatile AtimeAttrs atimeAttrs;

    EngineOps(Vfs vfs) {
        this.vfs = vfs;
    }

    void setLinkAttrs(HardLinkAttrs la) { this.linkAttrs = la; }

    void setAtimeAttrs(AtimeAttrs aa) { this.atimeAttrs = aa; }

    @Override
    public int getattr(String path, FileStat st) {
        FileAttr a = vfs.getattr(path);
        FuseStructs.fill(st, a);
        HardLinkAttrs la = linkAttrs;
        if (la != null) {
            la.getattr(a.ino(), a.nlink());
        }
        return 0;
    }

    @Override
    public int unlink(String path) {
        HardLinkAttrs la = linkAttrs;
        if (la == null || la.idle()) {
            vfs.unlink(path);
            return 0;
        }
        FileAttr a = vfs.getattr(path);
        vfs.unlink(path);
        la.unlinked(a.ino(), a.nlink() - 1);
        return 0;
    }

    @Override
    public int rename(String from, String to) {
        HardLinkAttrs la = linkAttrs;
        if (la == null || la.idle()) {
            vfs.rename(from, to);
            return 0;
        }
        FileAttr replaced = existing(to);
        vfs.rename(from, to);
        if (replaced != null && replaced.ino() != vfs.getattr(to).ino()) {
            la.unlinked(replaced.ino(), replaced.nlink() - 1);
        }
        return 0;
    }

    @Override
    public int link(String existing, String newPath) {
        vfs.link(existing, newPath);
        HardLinkAttrs la = linkAttrs;
        if (la != null) {
            la.linked(vfs.getattr(newPath).ino());
        }
        return 0;
    }

    /** The attributes of the file at {@code path}, or null if there is none. */
    private FileAttr existing(String path) {
        try {
            return vfs.getattr(path);
        } catch (FsException e) {
            return null;
        }
    }

    @Override
    public int readlink(String path, Pointer buf, long size) {
        byte[] target = vfs.readlink(path).getBytes(StandardCharsets.UTF_8);
        int n = (int) Math.min(target.length, size - 1);
        buf.put(0, target, 0, n);
        buf.putByte(n, (byte) 0);
        return 0;
    }

    // the requests that map one to one onto the engine
    @Override public int mkdir(String path, int mode, int uid, int gid) { vfs.mkdir(path, mode, uid, gid); return 0; }
    @Override public int rmdir(String path) { vfs.rmdir(path); return 0; }
    @Override public int symlink(String target, String at, int uid, int gid) { vfs.symlink(target, at, uid, gid); return 0; }
    @Override public int chmod(String path, int mode) { vfs.chmod(path, mode); return 0; }
    @Override public int chown(String path, int uid, int gid) { vfs.chown(path, uid, gid); return 0; }
    @Override public int truncate(String path, long size) { vfs.truncate(path, size); return 0; }
    @Override public int utimens(String path, long atime, long mtime) { vfs.utimens(path, atime, mtime); return 0; }

    @Override
    public int mknod(String path, int mode, long rdev, int uid, int gid) {
        FileType type = switch (mode & 0170000) {
            case 0010000 -> FileType.FIFO;
            case 0140000 -> FileType.SOCKET;
            case 0020000 -> FileType.CHARDEV;
            case 0060000 -> FileType.BLOCKDEV;
            default -> throw new FsException(Errno.EINVAL, path + ": mknod of type 0" + Integer.toOctalString(mode & 0170000));
        };
        vfs.mknod(path, type, mode & 07777, rdev, uid, gid);
        return 0;
    }

    @Override
    public int access(String path, int mask, int uid, int gid) {
        return Access.check(vfs.getattr(path), mask, uid, gid);
    }

    @Override
    public int setxattr(String path, String name, byte[] value, int flags) {
        vfs.setxattr(path, name, value, flags);
        return 0;
    }

    @Override
    public int getxattr(String path, String name, Pointer value, long size) {
        return FuseStructs.xattrReply(vfs.getxattr(path, name), value, size);
    }

    @Override
    public int listxattr(String path, Pointer list, long size) {
        StringBuilder names = new StringBuilder();
        for (String n : vfs.listxattr(path)) {
            names.append(n).append('\0');
        }
        return FuseStructs.xattrReply(names.toString().getBytes(StandardCharsets.UTF_8), list, size);
    }

    @Override
    public int removexattr(String path, String name) {
        vfs.removexattr(path, name);
        return 0;
    }

    @Override
    public Handle opendir(String path, Pointer fi) {
        if (vfs.getattr(path).type() != FileType.DIRECTORY) {
            throw new FsException(Errno.ENOTDIR, path + " is not a directory");
        }
        return new Handle(-1, RawFileInfo.flags(fi), path, null);
    }

    @Override
    public Handle open(String path, Pointer fi) {
        int flags = RawFileInfo.flags(fi);
        Instant t = Instant.now();
        long before = t.getEpochSecond() * 1_000_000_000L + t.getNano();
        long efh = vfs.open(path, flags);
        FileAttr a = keepCache(fi, efh);
        AtimeAttrs aa = atimeAttrs;
        if (aa != null && a.atimeNs() >= before) {
            // atime is from this open (or another request just now: an invalidation too many costs one GETATTR)
            aa.openMovedAtime();
        }
        return opened(new Handle(efh, flags, null, null), a);
    }

    @Override
    public Handle create(String path, int mode, Pointer fi, int uid, int gid) {
        int flags = RawFileInfo.flags(fi);
        long efh = vfs.create(path, mode, flags, uid, gid);
        return opened(new Handle(efh, flags, null, null), keepCache(fi, efh));
    }

    /**
     * Sets FOPEN_KEEP_CACHE on a regular file with a single link. Without it the kernel's fuse_finish_open
     * (fs/fuse/file.c) runs invalidate_inode_pages2 on every open: it throws away what other openers cached (their
     * next reads go to the daemon again) and races with their writers in flight (holetest lost markers in fixed
     * mode while another process opened the file).
     * Keeping the cache is coherent because every data change to the file arrives through this kernel
     * inode's own requests, each of which keeps its cache right: buffered writes and MAP_SHARED stores go
     * through its page cache; an O_DIRECT write (fuse_cache_write_iter -> generic_file_direct_write)
     * invalidates the written range afterwards, AIO ones included because libfuse 2.9 never negotiates
     * FUSE_ASYNC_DIO (with it, kernels before 4c4c472d25f5 skip that invalidation: fstests generic/451); a truncate that changes the size runs truncate_pagecache and
     * invalidate_inode_pages2 (fuse_do_setattr, fs/fuse/dir.c); fallocate PUNCH_HOLE (and ZERO_RANGE where the
     * kernel passes it) runs truncate_pagecache_range (fuse_file_fallocate). The exception is a file with
     * more than one link: libfuse 2's high-level API gives each path its own node id, so each link is a
     * separate kernel inode with its own page cache, and a write through one link reaches the other's cache
     * only through the invalidation at its next open. What the daemon itself loses (the bugs this file system
     * reproduces) would be hidden by a kept cache just as by an open one; {@link KernelInvalidator} tells the
     * kernel to drop those ranges.
     */
    private FileAttr keepCache(Pointer fi, long efh) {
        FileAttr a = vfs.fgetattr(efh);
        if (a.type() == FileType.REGULAR && a.nlink() == 1) {
            RawFileInfo.setKeepCache(fi);
        }
        return a;
    }

    private static Handle opened(Handle h, FileAttr a) {
        h.ino = a.ino();
        return h;
    }

    @Override
    public int fgetattr(Handle h, FileStat st) {
        FuseStructs.fill(st, h.dirPath != null ? vfs.getattr(h.dirPath) : vfs.fgetattr(h.engineFh));
        return 0;
    }

    @Override
    public int readdir(Handle h, Pointer buf, FuseFillDir filler) {
        // with use_ino, libfuse 2.9's fill_dir takes d_ino and d_type from the stat passed here; without one it
        // reports FUSE_UNKNOWN_INO (fstests generic/637: d_ino 4294967295 where stat gives the inode number)
        FileStat st = new FileStat(jnr.ffi.Runtime.getSystemRuntime());
        for (DirEntry e : vfs.readdir(h.dirPath)) {
            if (e.name().equals(".") || e.name().equals("..")) {
                continue;
            }
            st.st_ino.set(e.ino());
            st.st_mode.set(e.type().ifmt);
            if (filler.apply(buf, e.name(), st, 0) != 0) {
                return -ERANGE;
            }
        }
        if (h.dirPath.equals("/")) {
            filler.apply(buf, ControlTree.NAME, null, 0);
        }
        return 0;
    }

    @Override
    public int read(Handle h, Pointer buf, long size, long offset) {
        return vfs.read(h.engineFh, offset, FuseStructs.directView(buf, size));
    }

    @Override
    public int write(Handle h, Pointer buf, long size, long offset, boolean writepage) {
        // the payload sits in the receive buffer (fuse_fs_write_buf passes buf[0].mem straight through)
        return writepage ? vfs.writePage(h.engineFh, offset, FuseStructs.payload(buf, size))
            : vfs.write(h.engineFh, offset, FuseStructs.payload(buf, size));
    }

    @Override public int flush(Handle h) { vfs.flush(h.engineFh); return 0; }
    @Override public int release(Handle h) { vfs.release(h.engineFh); return 0; }
    @Override public int fsync(Handle h, boolean datasync) { vfs.fsync(h.engineFh, datasync); return 0; }
    @Override public int ftruncate(Handle h, long size) { vfs.ftruncate(h.engineFh, size); return 0; }
    @Override public int fallocate(Handle h, int mode, long off, long len) { vfs.fallocate(h.engineFh, mode, off, len); return 0; }
    @Override public boolean killSuidSgid(String path, IntPredicate inGroupOrCapable) { return vfs.killSuidSgid(path, inGroupOrCapable); }
    @Override public boolean killSuidSgid(Handle h, IntPredicate inGroupOrCapable) { return vfs.killSuidSgid(h.engineFh, inGroupOrCapable); }
    @Override public boolean hasSuidSgid(Handle h) { return SetId.any(vfs.fgetattr(h.engineFh).mode()); }
}
