package org.iomapfs.fuse.testing;

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

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * TEST ONLY: a small in-memory {@link Vfs} + {@link Controls} that keeps its whole tree in the JVM and saves
 * it into the image file on {@link #close}. It exists so the FUSE plumbing can be tested before (and
 * independently of) the real engine; it models none of the iomap machinery. It counts how requests arrive
 * (buffered, direct, page writes) so tests can check the mount's routing.
 */
public final class MemoryVfs implements Vfs, Controls {
    private static final long MAGIC = 0x494f4d41504d454dL; // "IOMAPMEM"
    private static final long MAX_FILE = 1L << 30;

    private static final class Inode {
        final long ino;
        final FileType type;
        int mode, uid, gid, nlink;
        long atime, mtime, ctime;
        byte[] data = new byte[0];
        long size;
        String target;
        final TreeMap<String, Inode> children = new TreeMap<>();

        Inode(long ino, FileType type, int mode, int uid, int gid) {
            this.ino = ino;
            this.type = type;
            this.mode = mode;
            this.uid = uid;
            this.gid = gid;
            this.nlink = type == FileType.DIRECTORY ? 2 : 1;
            atime = mtime = ctime = now();
        }
    }

    private record Handle(Inode inode, int flags) { }

    private final Path image;
    private final long imageSize;
    private final int blockSize;
    private final Map<Long, Inode> inodes = new HashMap<>();
    private final Map<Long, Handle> handles = new HashMap<>();
    private long nextIno = 2;
    private long nextFh = 100;
    private boolean closed;

    // Controls state
    private final Map<String, String> bugs = new LinkedHashMap<>();
    private final Map<String, Long> injects = new LinkedHashMap<>();
    private final Map<String, AtomicLong> counters = new LinkedHashMap<>();
    private final List<String> trace = new ArrayList<>();

    private MemoryVfs(Path image, long imageSize, int blockSize) {
        this.image = image;
        this.imageSize = imageSize;
        this.blockSize = blockSize;
        bugs.put("stale-iomap", "fixed");
        bugs.put("punch-truncates-pagecache", "fixed");
        injects.put("write_delay_ms", 0L);
        injects.put("wb_complete_eio", 0L);
        for (String c : List.of("reads_buffered", "reads_direct", "writes_buffered", "writes_direct", "writes_page",
            "fsyncs", "drop_caches")) {
            counters.put(c, new AtomicLong());
        }
    }

    private static long now() {
        return System.currentTimeMillis() * 1_000_000L;
    }

    private static FsException fail(Errno e, String msg) {
        return new FsException(e, msg);
    }

    // ------------------------------------------------------------------ image format

    public static void format(Path image, long size, int blockSize, boolean force) {
        if (image.toFile().exists() && !force) {
            throw fail(Errno.EEXIST, "image " + image + " exists (use --force to overwrite)");
        }
        if (size < 1 << 20) {
            throw fail(Errno.EINVAL, "image size must be at least 1 MiB");
        }
        MemoryVfs fs = new MemoryVfs(image, size, blockSize);
        fs.inodes.put(ROOT_INO, new Inode(ROOT_INO, FileType.DIRECTORY, 0755, 0, 0));
        fs.save();
    }

    public static MemoryVfs open(Path image) {
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "r")) {
            if (f.length() < 32 || f.readLong() != MAGIC) {
                throw fail(Errno.EINVAL, "image " + image + " is not a memory-engine image");
            }
            long size = f.readLong();
            int bs = f.readInt();
            int len = f.readInt();
            byte[] state = new byte[len];
            f.readFully(state);
            MemoryVfs fs = new MemoryVfs(image, size, bs);
            fs.load(new DataInputStream(new ByteArrayInputStream(state)));
            return fs;
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "cannot read image " + image + ": " + e.getMessage(), e);
        }
    }

    private void load(DataInputStream in) throws IOException {
        nextIno = in.readLong();
        int n = in.readInt();
        Map<Long, long[]> dirents = new HashMap<>();
        Map<Long, String[]> names = new HashMap<>();
        for (int i = 0; i < n; i++) {
            long ino = in.readLong();
            FileType t = FileType.values()[in.readInt()];
            Inode x = new Inode(ino, t, in.readInt(), in.readInt(), in.readInt());
            x.nlink = in.readInt();
            x.atime = in.readLong();
            x.mtime = in.readLong();
            x.ctime = in.readLong();
            x.size = in.readLong();
            x.data = new byte[(int) x.size];
            in.readFully(x.data);
            x.target = in.readBoolean() ? in.readUTF() : null;
            int c = in.readInt();
            long[] inos = new long[c];
            String[] nm = new String[c];
            for (int j = 0; j < c; j++) {
                nm[j] = in.readUTF();
                inos[j] = in.readLong();
            }
            dirents.put(ino, inos);
            names.put(ino, nm);
            inodes.put(ino, x);
        }
        for (Map.Entry<Long, long[]> e : dirents.entrySet()) {
            Inode d = inodes.get(e.getKey());
            for (int j = 0; j < e.getValue().length; j++) {
                d.children.put(names.get(e.getKey())[j], inodes.get(e.getValue()[j]));
            }
        }
    }

    private void save() {
        try {
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bo);
            out.writeLong(nextIno);
            out.writeInt(inodes.size());
            for (Inode x : inodes.values()) {
                out.writeLong(x.ino);
                out.writeInt(x.type.ordinal());
                out.writeInt(x.mode);
                out.writeInt(x.uid);
                out.writeInt(x.gid);
                out.writeInt(x.nlink);
                out.writeLong(x.atime);
                out.writeLong(x.mtime);
                out.writeLong(x.ctime);
                out.writeLong(x.size);
                out.write(x.data, 0, (int) x.size);
                out.writeBoolean(x.target != null);
                if (x.target != null) {
                    out.writeUTF(x.target);
                }
                out.writeInt(x.children.size());
                for (Map.Entry<String, Inode> c : x.children.entrySet()) {
                    out.writeUTF(c.getKey());
                    out.writeLong(c.getValue().ino);
                }
            }
            out.flush();
            byte[] state = bo.toByteArray();
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(0);
                f.writeLong(MAGIC);
                f.writeLong(imageSize);
                f.writeInt(blockSize);
                f.writeInt(state.length);
                f.write(state);
                f.setLength(Math.max(imageSize, f.getFilePointer()));
                f.getFD().sync();
            }
        } catch (IOException e) {
            throw new FsException(Errno.EIO, "cannot write image " + image + ": " + e.getMessage(), e);
        }
    }

    /** Problems in a saved image, for fsck. */
    public static List<String> check(Path image) {
        MemoryVfs fs = open(image);
        List<String> problems = new ArrayList<>();
        Inode root = fs.inodes.get(ROOT_INO);
        if (root == null || root.type != FileType.DIRECTORY) {
            problems.add("root directory missing");
            return problems;
        }
        Map<Long, Integer> links = new HashMap<>();
        fs.inodes.values().forEach(x -> x.children.values().forEach(c -> links.merge(c.ino, 1, Integer::sum)));
        for (Inode x : fs.inodes.values()) {
            if (x.type != FileType.DIRECTORY && x.ino != ROOT_INO && links.getOrDefault(x.ino, 0) != x.nlink) {
                problems.add("inode " + x.ino + " has nlink " + x.nlink + " but " + links.getOrDefault(x.ino, 0) + " names");
            }
        }
        return problems;
    }

    // ------------------------------------------------------------------ paths

    private Inode resolve(String path) {
        if (path == null || !path.startsWith("/")) {
            throw fail(Errno.EINVAL, "bad path " + path);
        }
        Inode cur = inodes.get(ROOT_INO);
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

    private Inode parentOf(String path) {
        int i = path.lastIndexOf('/');
        Inode p = resolve(i == 0 ? "/" : path.substring(0, i));
        if (p.type != FileType.DIRECTORY) {
            throw fail(Errno.ENOTDIR, path + ": parent is not a directory");
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

    private Inode newInode(FileType t, int mode, int uid, int gid) {
        Inode x = new Inode(nextIno++, t, mode, uid, gid);
        inodes.put(x.ino, x);
        return x;
    }

    private Handle handle(long fh) {
        Handle h = handles.get(fh);
        if (h == null) {
            throw fail(Errno.EBADF, "bad handle " + fh);
        }
        return h;
    }

    private void forget(Inode x) {
        if (x.nlink <= 0 && handles.values().stream().noneMatch(h -> h.inode == x)) {
            inodes.remove(x.ino);
        }
    }

    private static FileAttr attr(Inode x) {
        long size = x.type == FileType.SYMLINK ? x.target.length() : x.size;
        return new FileAttr(x.ino, x.type, x.mode, x.nlink, x.uid, x.gid, size, (x.data.length + 511) / 512,
            4096, x.atime, x.mtime, x.ctime);
    }

    private void resize(Inode x, long size) {
        if (size > MAX_FILE) {
            throw fail(Errno.EFBIG, "the memory engine keeps files below 1 GiB");
        }
        if (size > x.data.length) {
            x.data = Arrays.copyOf(x.data, (int) Math.max(size, Math.min(MAX_FILE, x.data.length * 2L)));
        } else if (size < x.size) {
            Arrays.fill(x.data, (int) size, (int) x.size, (byte) 0);
        }
        x.size = size;
        x.mtime = x.ctime = now();
    }

    // ------------------------------------------------------------------ Vfs

    @Override public synchronized FileAttr getattr(String path) { return attr(resolve(path)); }

    @Override public synchronized FileAttr fgetattr(long fh) { return attr(handle(fh).inode); }

    @Override
    public synchronized List<DirEntry> readdir(String path) {
        Inode d = resolve(path);
        if (d.type != FileType.DIRECTORY) {
            throw fail(Errno.ENOTDIR, path + " is not a directory");
        }
        List<DirEntry> out = new ArrayList<>();
        d.children.forEach((n, x) -> out.add(new DirEntry(n, x.ino, x.type)));
        return out;
    }

    @Override
    public synchronized void mkdir(String path, int mode, int uid, int gid) {
        Inode p = parentOf(path);
        String n = nameOf(path);
        if (p.children.containsKey(n)) {
            throw fail(Errno.EEXIST, path + " exists");
        }
        p.children.put(n, newInode(FileType.DIRECTORY, mode, uid, gid));
        p.nlink++;
    }

    @Override
    public synchronized void rmdir(String path) {
        Inode p = parentOf(path);
        Inode d = resolve(path);
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
        Inode p = parentOf(path);
        String n = nameOf(path);
        Inode x = p.children.get(n);
        if (x != null) {
            if ((flags & OpenFlags.O_EXCL) != 0) {
                throw fail(Errno.EEXIST, path + " exists");
            }
            return open(path, flags);
        }
        x = newInode(FileType.REGULAR, mode, uid, gid);
        p.children.put(n, x);
        long fh = nextFh++;
        handles.put(fh, new Handle(x, flags));
        return fh;
    }

    @Override
    public synchronized long open(String path, int flags) {
        Inode x = resolve(path);
        if (x.type == FileType.DIRECTORY && OpenFlags.canWrite(flags)) {
            throw fail(Errno.EISDIR, path + " is a directory");
        }
        if ((flags & OpenFlags.O_TRUNC) != 0 && OpenFlags.canWrite(flags)) {
            resize(x, 0);
        }
        long fh = nextFh++;
        handles.put(fh, new Handle(x, flags));
        return fh;
    }

    @Override
    public synchronized int read(long fh, long offset, ByteBuffer dst) {
        Handle h = handle(fh);
        counters.get(OpenFlags.isDirect(h.flags) ? "reads_direct" : "reads_buffered").incrementAndGet();
        Inode x = h.inode;
        if (offset >= x.size) {
            return 0;
        }
        int n = (int) Math.min(dst.remaining(), x.size - offset);
        dst.put(x.data, (int) offset, n);
        return n;
    }

    @Override
    public synchronized int write(long fh, long offset, ByteBuffer src) {
        Handle h = handle(fh);
        counters.get(OpenFlags.isDirect(h.flags) ? "writes_direct" : "writes_buffered").incrementAndGet();
        return doWrite(h, (h.flags & OpenFlags.O_APPEND) != 0 ? h.inode.size : offset, src);
    }

    @Override
    public synchronized int writePage(long fh, long offset, ByteBuffer src) {
        Handle h = handle(fh);
        counters.get("writes_page").incrementAndGet();
        return doWrite(h, offset, src);
    }

    private int doWrite(Handle h, long offset, ByteBuffer src) {
        Inode x = h.inode;
        int n = src.remaining();
        if (offset + n > x.size) {
            resize(x, offset + n);
        }
        src.get(x.data, (int) offset, n);
        x.mtime = x.ctime = now();
        return n;
    }

    @Override public synchronized void flush(long fh) { handle(fh); }

    @Override
    public synchronized void release(long fh) {
        Handle h = handles.remove(fh);
        if (h == null) {
            throw fail(Errno.EBADF, "bad handle " + fh);
        }
        forget(h.inode);
    }

    @Override
    public synchronized void fsync(long fh, boolean datasync) {
        handle(fh);
        counters.get("fsyncs").incrementAndGet();
        if (injects.get("wb_complete_eio") != 0) {
            throw fail(Errno.EIO, "injected writeback completion error");
        }
    }

    @Override
    public synchronized void truncate(String path, long size) {
        Inode x = resolve(path);
        if (x.type == FileType.DIRECTORY) {
            throw fail(Errno.EISDIR, path + " is a directory");
        }
        resize(x, size);
    }

    @Override public synchronized void ftruncate(long fh, long size) { resize(handle(fh).inode, size); }

    @Override
    public synchronized void unlink(String path) {
        Inode p = parentOf(path);
        Inode x = resolve(path);
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
        Inode fp = parentOf(from);
        Inode x = resolve(from);
        Inode tp = parentOf(to);
        if (x.type == FileType.DIRECTORY && (to + "/").startsWith(from + "/")) {
            throw fail(Errno.EINVAL, "cannot move a directory into itself");
        }
        Inode old = tp.children.get(nameOf(to));
        if (old == x) {
            return;
        }
        if (old != null) {
            if (old.type == FileType.DIRECTORY && x.type != FileType.DIRECTORY) {
                throw fail(Errno.EISDIR, to + " is a directory");
            }
            if (old.type != FileType.DIRECTORY && x.type == FileType.DIRECTORY) {
                throw fail(Errno.ENOTDIR, to + " is not a directory");
            }
            if (!old.children.isEmpty()) {
                throw fail(Errno.ENOTEMPTY, to + " is not empty");
            }
            old.nlink = old.type == FileType.DIRECTORY ? 0 : old.nlink - 1;
            if (old.type == FileType.DIRECTORY) {
                tp.nlink--;
            }
        }
        fp.children.remove(nameOf(from));
        tp.children.put(nameOf(to), x);
        if (x.type == FileType.DIRECTORY) {
            fp.nlink--;
            tp.nlink++;
        }
        if (old != null) {
            forget(old);
        }
        x.ctime = now();
    }

    @Override
    public synchronized void link(String existing, String newPath) {
        Inode x = resolve(existing);
        if (x.type == FileType.DIRECTORY) {
            throw fail(Errno.EPERM, existing + " is a directory");
        }
        Inode p = parentOf(newPath);
        String n = nameOf(newPath);
        if (p.children.containsKey(n)) {
            throw fail(Errno.EEXIST, newPath + " exists");
        }
        p.children.put(n, x);
        x.nlink++;
        x.ctime = now();
    }

    @Override
    public synchronized void symlink(String target, String linkPath, int uid, int gid) {
        Inode p = parentOf(linkPath);
        String n = nameOf(linkPath);
        if (p.children.containsKey(n)) {
            throw fail(Errno.EEXIST, linkPath + " exists");
        }
        Inode x = newInode(FileType.SYMLINK, 0777, uid, gid);
        x.target = target;
        p.children.put(n, x);
    }

    @Override
    public synchronized String readlink(String path) {
        Inode x = resolve(path);
        if (x.type != FileType.SYMLINK) {
            throw fail(Errno.EINVAL, path + " is not a symlink");
        }
        return x.target;
    }

    @Override
    public synchronized void chmod(String path, int mode) {
        Inode x = resolve(path);
        x.mode = mode & 07777;
        x.ctime = now();
    }

    @Override
    public synchronized void chown(String path, int uid, int gid) {
        Inode x = resolve(path);
        if (uid != -1) {
            x.uid = uid;
        }
        if (gid != -1) {
            x.gid = gid;
        }
        x.ctime = now();
    }

    @Override
    public synchronized void utimens(String path, long atimeNs, long mtimeNs) {
        Inode x = resolve(path);
        if (atimeNs != UTIME_OMIT) {
            x.atime = atimeNs == UTIME_NOW ? now() : atimeNs;
        }
        if (mtimeNs != UTIME_OMIT) {
            x.mtime = mtimeNs == UTIME_NOW ? now() : mtimeNs;
        }
        x.ctime = now();
    }

    @Override
    public synchronized StatFs statfs() {
        long used = inodes.values().stream().mapToLong(x -> (x.size + blockSize - 1) / blockSize).sum();
        long total = imageSize / blockSize;
        long free = Math.max(0, total - used);
        return new StatFs(blockSize, total, free, free, 1 << 20, (1 << 20) - inodes.size(), 255);
    }

    @Override
    public synchronized void fallocate(long fh, int mode, long offset, long length) {
        Inode x = handle(fh).inode;
        long end = offset + length;
        switch (mode) {
            case 0 -> {
                if (end > x.size) {
                    resize(x, end);
                }
            }
            case Falloc.KEEP_SIZE -> { }
            case Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE ->
                Arrays.fill(x.data, (int) Math.min(offset, x.size), (int) Math.min(end, x.size), (byte) 0);
            case Falloc.ZERO_RANGE, Falloc.ZERO_RANGE | Falloc.KEEP_SIZE -> {
                if (end > x.size && (mode & Falloc.KEEP_SIZE) == 0) {
                    resize(x, end);
                }
                Arrays.fill(x.data, (int) Math.min(offset, x.size), (int) Math.min(end, x.size), (byte) 0);
            }
            default -> throw fail(Errno.EOPNOTSUPP, "fallocate mode " + mode + " is not supported");
        }
    }

    @Override
    public synchronized long lseek(long fh, long offset, int whence) {
        Inode x = handle(fh).inode;
        if (offset >= x.size) {
            throw fail(Errno.ENXIO, "offset past EOF");
        }
        return switch (whence) {
            case Whence.SEEK_DATA -> offset;
            case Whence.SEEK_HOLE -> x.size;
            default -> throw fail(Errno.EINVAL, "whence " + whence);
        };
    }

    @Override public synchronized void sync() { }

    @Override public synchronized void dropCaches() { counters.get("drop_caches").incrementAndGet(); }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            save();
        }
    }

    // ------------------------------------------------------------------ Controls

    private static final List<String> FIXED_KEYS = List.of("mode", "metrics", "trace", "drop_caches", "sync");

    @Override
    public synchronized List<String> keys() {
        List<String> k = new ArrayList<>();
        k.add("mode");
        bugs.keySet().forEach(b -> k.add("bugs/" + b));
        injects.keySet().forEach(i -> k.add("inject/" + i));
        k.addAll(FIXED_KEYS.subList(1, FIXED_KEYS.size()));
        return k;
    }

    @Override
    public synchronized boolean writable(String key) {
        return !key.equals("metrics") && !key.equals("trace") && keys().contains(key);
    }

    @Override
    public synchronized String read(String key) {
        if (key.equals("mode")) {
            return (bugs.values().stream().allMatch("buggy"::equals) ? "buggy"
                : bugs.values().stream().allMatch("fixed"::equals) ? "fixed" : "mixed") + "\n";
        }
        if (key.startsWith("bugs/") && bugs.containsKey(key.substring(5))) {
            return bugs.get(key.substring(5)) + "\n";
        }
        if (key.startsWith("inject/") && injects.containsKey(key.substring(7))) {
            return injects.get(key.substring(7)) + "\n";
        }
        switch (key) {
            case "metrics" -> {
                StringBuilder b = new StringBuilder();
                counters.forEach((n, v) -> b.append("# TYPE memvfs_").append(n).append("_total counter\n")
                    .append("memvfs_").append(n).append("_total ").append(v.get()).append('\n'));
                return b.toString();
            }
            case "trace" -> {
                return trace.isEmpty() ? "\n" : String.join("\n", trace) + "\n";
            }
            case "drop_caches", "sync" -> {
                return "0\n";
            }
            default -> throw fail(Errno.ENOENT, "unknown control key " + key);
        }
    }

    @Override
    public synchronized void write(String key, String value) {
        String v = value.strip();
        if (!keys().contains(key)) {
            throw fail(Errno.ENOENT, "unknown control key " + key);
        }
        if (!writable(key)) {
            throw fail(Errno.EACCES, key + " is read-only");
        }
        if (key.equals("mode") || key.startsWith("bugs/")) {
            if (!v.equals("buggy") && !v.equals("fixed")) {
                throw fail(Errno.EINVAL, key + ": value must be buggy or fixed");
            }
            if (key.equals("mode")) {
                bugs.replaceAll((k, old) -> v);
            } else {
                bugs.put(key.substring(5), v);
            }
        } else if (key.startsWith("inject/")) {
            long n;
            try {
                n = Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw fail(Errno.EINVAL, key + ": value must be a non-negative integer");
            }
            if (n < 0) {
                throw fail(Errno.EINVAL, key + ": value must be a non-negative integer");
            }
            injects.put(key.substring(7), n);
        } else if (key.equals("drop_caches") || key.equals("sync")) {
            if (!v.equals("1")) {
                throw fail(Errno.EINVAL, key + ": write 1");
            }
            if (key.equals("drop_caches")) {
                dropCaches();
            }
        }
        trace.add("set " + key + "=" + v);
    }
}
