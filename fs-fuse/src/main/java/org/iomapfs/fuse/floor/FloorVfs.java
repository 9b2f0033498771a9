package org.iomapfs.fuse.floor;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.DirEntry;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.api.StatFs;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.api.Whence;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntPredicate;

/**
 * The binding's throughput floor: a minimal in-memory {@link Vfs} with none of the engine's machinery (no page
 * cache, extents, writeback or image), so that a mount of it measures what FUSE, libfuse and {@code FuseMount}
 * cost by themselves ({@code iomapfs floor MNT}). Everything is lost at unmount; there is no fsck.
 *
 * <p>Its {@link Controls} count how requests arrive ({@code metrics}: buffered, direct and page writes, for
 * the mount's routing test) and offer one fault, {@code inject/wb_complete_eio} (fsync fails with EIO).
 * Locking: the namespace (directory entries, link counts) under this object's monitor, a file's data and
 * attributes under its inode's; the namespace is taken first. Reads and writes take only the inode, so
 * requests on different files run in parallel. Neither monitor is held across anything that blocks.
 */
public final class FloorVfs implements Vfs, Controls {
    private static final List<String> COUNTERS = List.of("reads_buffered", "reads_direct", "writes_buffered",
        "writes_direct", "writes_page", "fsyncs");
    private static final String EIO_KNOB = "inject/wb_complete_eio";

    private record Handle(FloorInode inode, int flags) { }

    private final FloorInode root = new FloorInode(ROOT_INO, FileType.DIRECTORY, 0755, 0, 0);
    private final Map<Long, Handle> handles = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private final Map<String, LongAdder> counters = new ConcurrentHashMap<>();
    private long nextIno = ROOT_INO + 1;
    private long inodes = 1;
    private volatile long failFsync;

    public FloorVfs() {
        COUNTERS.forEach(c -> counters.put(c, new LongAdder()));
    }

    static long now() {
        return System.currentTimeMillis() * 1_000_000L;
    }

    static FsException fail(Errno e, String msg) {
        return new FsException(e, msg);
    }

    // ------------------------------------------------------------------ namespace (under this)

    private FloorInode resolve(String path) {
        FloorInode cur = root;
        for (String part : path.split("/")) {
            if (part.isEmpty()) {
                continue;
            }
            if (cur.type != FileType.DIRECTORY) {
                throw fail(Errno.ENOTDIR, path + ": a component is not a directory");
            }
            cur = cur.children.get(part);
            if (cur == null) {
                throw fail(Errno.ENOENT, path + ": no such file or directory");
            }
        }
        return cur;
    }

    private FloorInode parentOf(String path) {
        int i = path.lastIndexOf('/');
        FloorInode p = resolve(i <= 0 ? "/" : path.substring(0, i));
        if (p.type != FileType.DIRECTORY) {
            throw fail(Errno.ENOTDIR, path + ": parent is not a directory");
        }
        return p;
    }

    /** The new name's parent; EEXIST if the name is taken. */
    private FloorInode freeName(String path) {
        FloorInode p = parentOf(path);
        String n = nameOf(path);
        if (p.children.containsKey(n)) {
            throw fail(Errno.EEXIST, path + " exists");
        }
        return p;
    }

    private static String nameOf(String path) {
        String n = path.substring(path.lastIndexOf('/') + 1);
        if (n.length() > 255) {
            throw fail(Errno.ENAMETOOLONG, "name too long");
        }
        return n;
    }

    private FloorInode newFloorInode(FileType t, int mode, int uid, int gid) {
        inodes++;
        return new FloorInode(nextIno++, t, mode, uid, gid);
    }

    private void forget(FloorInode x) {
        if (x.nlink <= 0 && x.openCount == 0) {
            inodes--;
        }
    }

    private long openHandle(FloorInode x, int flags) {
        long fh = nextFh.getAndIncrement();
        x.openCount++;
        handles.put(fh, new Handle(x, flags));
        return fh;
    }

    private Handle handle(long fh) {
        Handle h = handles.get(fh);
        if (h == null) {
            throw fail(Errno.EBADF, "bad handle " + fh);
        }
        return h;
    }

    @Override public synchronized FileAttr getattr(String path) { return resolve(path).attr(); }

    @Override public FileAttr fgetattr(long fh) { return handle(fh).inode.attr(); }

    @Override
    public synchronized List<DirEntry> readdir(String path) {
        FloorInode d = resolve(path);
        if (d.type != FileType.DIRECTORY) {
            throw fail(Errno.ENOTDIR, path + " is not a directory");
        }
        List<DirEntry> out = new ArrayList<>();
        d.children.forEach((n, x) -> out.add(new DirEntry(n, x.ino, x.type)));
        return out;
    }

    @Override
    public synchronized void mkdir(String path, int mode, int uid, int gid) {
        FloorInode p = freeName(path);
        p.children.put(nameOf(path), newFloorInode(FileType.DIRECTORY, mode, uid, gid));
        p.nlink++;
    }

    @Override
    public synchronized void rmdir(String path) {
        FloorInode p = parentOf(path);
        FloorInode d = resolve(path);
        if (d.type != FileType.DIRECTORY) {
            throw fail(Errno.ENOTDIR, path + " is not a directory");
        }
        if (!d.children.isEmpty()) {
            throw fail(Errno.ENOTEMPTY, path + " is not empty");
        }
        p.children.remove(nameOf(path));
        p.nlink--;
        d.nlink = 0;
        forget(d);
    }

    @Override
    public synchronized long create(String path, int mode, int flags, int uid, int gid) {
        FloorInode p = parentOf(path);
        FloorInode x = p.children.get(nameOf(path));
        if (x != null) {
            if ((flags & OpenFlags.O_EXCL) != 0) {
                throw fail(Errno.EEXIST, path + " exists");
            }
            return open(path, flags);
        }
        x = newFloorInode(FileType.REGULAR, mode, uid, gid);
        p.children.put(nameOf(path), x);
        return openHandle(x, flags);
    }

    @Override
    public synchronized long open(String path, int flags) {
        FloorInode x = resolve(path);
        if (x.type == FileType.DIRECTORY && OpenFlags.canWrite(flags)) {
            throw fail(Errno.EISDIR, path + " is a directory");
        }
        if ((flags & OpenFlags.O_TRUNC) != 0 && OpenFlags.canWrite(flags)) {
            x.resize(0);
        }
        return openHandle(x, flags);
    }

    @Override public void flush(long fh) { handle(fh); }

    @Override
    public synchronized void release(long fh) {
        Handle h = handles.remove(fh);
        if (h == null) {
            throw fail(Errno.EBADF, "bad handle " + fh);
        }
        h.inode.openCount--;
        forget(h.inode);
    }

    @Override
    public synchronized void truncate(String path, long size) {
        FloorInode x = resolve(path);
        if (x.type == FileType.DIRECTORY) {
            throw fail(Errno.EISDIR, path + " is a directory");
        }
        x.resize(size);
    }

    @Override
    public synchronized void unlink(String path) {
        FloorInode p = parentOf(path);
        FloorInode x = resolve(path);
        if (x.type == FileType.DIRECTORY) {
            throw fail(Errno.EISDIR, path + " is a directory");
        }
        p.children.remove(nameOf(path));
        x.nlink--;
        x.ctime = now();
        forget(x);
    }

    @Override
    public synchronized void rename(String from, String to) {
        FloorInode fp = parentOf(from);
        FloorInode x = resolve(from);
        FloorInode tp = parentOf(to);
        if (x.type == FileType.DIRECTORY && (to + "/").startsWith(from + "/")) {
            throw fail(Errno.EINVAL, "cannot move a directory into itself");
        }
        FloorInode old = tp.children.get(nameOf(to));
        if (old == x) {
            return;
        }
        if (old != null) {
            if (old.type == FileType.DIRECTORY) {
                if (x.type != FileType.DIRECTORY) {
                    throw fail(Errno.EISDIR, to + " is a directory");
                }
                if (!old.children.isEmpty()) {
                    throw fail(Errno.ENOTEMPTY, to + " is not empty");
                }
                old.nlink = 0;
                tp.nlink--;
            } else if (x.type == FileType.DIRECTORY) {
                throw fail(Errno.ENOTDIR, to + " is not a directory");
            } else {
                old.nlink--;
            }
            forget(old);
        }
        fp.children.remove(nameOf(from));
        tp.children.put(nameOf(to), x);
        if (x.type == FileType.DIRECTORY) {
            fp.nlink--;
            tp.nlink++;
        }
        x.ctime = now();
    }

    @Override
    public synchronized void link(String existing, String newPath) {
        FloorInode x = resolve(existing);
        if (x.type == FileType.DIRECTORY) {
            throw fail(Errno.EPERM, existing + " is a directory");
        }
        freeName(newPath).children.put(nameOf(newPath), x);
        x.nlink++;
        x.ctime = now();
    }

    @Override
    public synchronized void symlink(String target, String linkPath, int uid, int gid) {
        FloorInode p = freeName(linkPath);
        FloorInode x = newFloorInode(FileType.SYMLINK, 0777, uid, gid);
        x.target = target;
        p.children.put(nameOf(linkPath), x);
    }

    @Override
    public synchronized String readlink(String path) {
        FloorInode x = resolve(path);
        if (x.type != FileType.SYMLINK) {
            throw fail(Errno.EINVAL, path + " is not a symlink");
        }
        return x.target;
    }

    @Override
    public synchronized void chmod(String path, int mode) {
        FloorInode x = resolve(path);
        synchronized (x) {
            x.mode = mode & 07777;
            x.ctime = now();
        }
    }

    @Override
    public synchronized boolean killSuidSgid(String path, IntPredicate inGroupOrCapable) {
        return resolve(path).killSuidSgid(inGroupOrCapable);
    }

    @Override
    public boolean killSuidSgid(long fh, IntPredicate inGroupOrCapable) {
        return handle(fh).inode.killSuidSgid(inGroupOrCapable);
    }

    @Override
    public synchronized void chown(String path, int uid, int gid) {
        FloorInode x = resolve(path);
        synchronized (x) {
            x.uid = uid != -1 ? uid : x.uid;
            x.gid = gid != -1 ? gid : x.gid;
            x.ctime = now();
        }
    }

    @Override
    public synchronized void utimens(String path, long atimeNs, long mtimeNs) {
        FloorInode x = resolve(path);
        synchronized (x) {
            x.atime = atimeNs == UTIME_OMIT ? x.atime : atimeNs == UTIME_NOW ? now() : atimeNs;
            x.mtime = mtimeNs == UTIME_OMIT ? x.mtime : mtimeNs == UTIME_NOW ? now() : mtimeNs;
            x.ctime = now();
        }
    }

    @Override
    public synchronized StatFs statfs() {
        long total = 1L << 28; // 1 TiB of 4 KiB blocks: the heap is the real limit
        return new StatFs(4096, total, total, total, 1 << 20, (1 << 20) - inodes, 255);
    }

    // ------------------------------------------------------------------ data (under the inode)

    @Override
    public int read(long fh, long offset, ByteBuffer dst) {
        Handle h = handle(fh);
        counters.get(OpenFlags.isDirect(h.flags) ? "reads_direct" : "reads_buffered").increment();
        return h.inode.read(offset, dst);
    }

    @Override
    public int write(long fh, long offset, ByteBuffer src) {
        Handle h = handle(fh);
        counters.get(OpenFlags.isDirect(h.flags) ? "writes_direct" : "writes_buffered").increment();
        return h.inode.store((h.flags & OpenFlags.O_APPEND) != 0 ? -1 : offset, src);
    }

    @Override
    public int writePage(long fh, long offset, ByteBuffer src) {
        Handle h = handle(fh);
        counters.get("writes_page").increment();
        return h.inode.store(offset, src);
    }

    @Override
    public void fsync(long fh, boolean datasync) {
        handle(fh);
        counters.get("fsyncs").increment();
        if (failFsync != 0) {
            throw fail(Errno.EIO, "injected writeback completion error");
        }
    }

    @Override public void ftruncate(long fh, long size) { handle(fh).inode.resize(size); }

    @Override
    public void fallocate(long fh, int mode, long offset, long length) {
        FloorInode x = handle(fh).inode;
        long end = offset + length;
        synchronized (x) {
            if ((mode & Falloc.KEEP_SIZE) == 0 && end > x.size) {
                x.resize(end);
            }
            if ((mode & (Falloc.PUNCH_HOLE | Falloc.ZERO_RANGE)) != 0) {
                x.zero(offset, end);
            }
        }
    }

    @Override
    public long lseek(long fh, long offset, int whence) {
        FloorInode x = handle(fh).inode;
        synchronized (x) {
            if (offset >= x.size) {
                throw fail(Errno.ENXIO, "offset past EOF");
            }
            return switch (whence) {
                case Whence.SEEK_DATA -> offset;
                case Whence.SEEK_HOLE -> x.size;
                default -> throw fail(Errno.EINVAL, "whence " + whence);
            };
        }
    }

    @Override public void sync() { }

    @Override public void dropCaches() { }

    @Override public void close() { }

    // ------------------------------------------------------------------ Controls

    @Override
    public List<String> keys() {
        return List.of(EIO_KNOB, "metrics");
    }

    @Override
    public boolean writable(String key) {
        return key.equals(EIO_KNOB);
    }

    @Override
    public String read(String key) {
        if (key.equals(EIO_KNOB)) {
            return failFsync + "\n";
        }
        if (!key.equals("metrics")) {
            throw fail(Errno.ENOENT, "unknown control key " + key);
        }
        StringBuilder b = new StringBuilder();
        for (String n : COUNTERS) {
            b.append("# TYPE floor_").append(n).append("_total counter\n")
                .append("floor_").append(n).append("_total ").append(counters.get(n).sum()).append('\n');
        }
        return b.toString();
    }

    @Override
    public void write(String key, String value) {
        if (!writable(key)) {
            throw fail(keys().contains(key) ? Errno.EACCES : Errno.ENOENT, key + " is not a writable control");
        }
        try {
            long n = Long.parseLong(value.strip());
            if (n >= 0) {
                failFsync = n;
                return;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw fail(Errno.EINVAL, key + ": value must be a non-negative integer");
    }
}
