package org.iomapfs.core;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inject.Injector;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.mm.MappedRegion;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.trace.Trace;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.DirEntry;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.api.StatFs;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.buffered.BufferedIo;
import org.iomapfs.core.dio.DirectIo;
import org.iomapfs.core.extent.Allocator;
import org.iomapfs.core.extent.ExtentMap;
import org.iomapfs.core.inode.FsContext;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.metrics.EngineMetrics;
import org.iomapfs.core.namespace.Namespace;
import org.iomapfs.core.pagecache.AddressSpace;
import org.iomapfs.core.pagecache.PageCache;
import org.iomapfs.core.store.ImageDevice;
import org.iomapfs.core.store.InodeRecord;
import org.iomapfs.core.store.MvMetaStore;
import org.iomapfs.core.store.Superblock;
import org.iomapfs.core.writeback.Writeback;
import org.iomapfs.core.xfs.XfsAops;
import org.iomapfs.core.xfs.XfsFileOps;
import org.iomapfs.core.xfs.XfsIomapOps;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One mounted engine: the image, the metadata store, the page cache and the threads, behind {@link Vfs}.
 * Opening replays nothing (the store reopens at its last commit) but frees orphans: inodes with no link
 * left, which were open-unlinked when the previous instance stopped.
 */
public final class IomapFs implements Vfs, Controls {
    private final ImageDevice dev;
    private final MvMetaStore store;
    private final FsContext ctx;
    private final Map<Long, Inode> inodes = new ConcurrentHashMap<>();
    private final Map<Long, Handle> handles = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);
    private final Namespace ns;
    private final Writeback writeback;
    private final BufferedIo bio;
    private final XfsIomapOps ops;
    private final XfsFileOps files;
    private final DirectIo dio;
    private volatile boolean closed;

    /** An open file: the inode, its open flags and the errseq cookie it reports from. */
    private static final class Handle {
        final Inode inode;
        final int flags;
        final long[] errSince = new long[1];

        Handle(Inode inode, int flags) {
            this.inode = inode;
            this.flags = flags;
            this.errSince[0] = inode.mapping.wbErr.sample();
        }
    }

    private IomapFs(ImageDevice dev, MvMetaStore store, EngineConfig config) {
        this.dev = dev;
        this.store = store;
        Superblock sb = store.superblock();
        EngineMetrics metrics = new EngineMetrics(config.registry());
        PageCache cache = new PageCache(metrics, config.cacheBytes());
        metrics.bindFootprint(cache::cachedFolios, cache::budgetBytes, cache::lruLength, store::fileBytes, Folio.SIZE);
        Allocator alloc = new Allocator(store, sb.blockCount() - Superblock.FIRST_DATA_BLOCK);
        this.ctx = new FsContext(store, dev, alloc, cache, metrics, config, inodes::get, inodes::values);
        this.writeback = new Writeback(ctx, new XfsAops(ctx));
        this.bio = new BufferedIo(ctx);
        XfsIomapOps[] holder = new XfsIomapOps[1];
        this.ops = new XfsIomapOps(ctx, (inode, s, e) -> bio.writeDelallocRelease(inode, s, e,
                (in, a, b) -> holder[0].punchDelalloc(in, a, b)));
        holder[0] = ops;
        this.files = new XfsFileOps(ctx, bio, ops, writeback);
        this.dio = new DirectIo(ctx, writeback);
        this.ns = new Namespace(store, inodes::get, this::instantiate, this::evict);
        for (InodeRecord r : store.allInodes()) {
            Inode in = instantiate(r);
            in.dataFork.load(store.extents(r.ino()));
            if (r.type() == FileType.DIRECTORY) {
                for (Map.Entry<String, Long> e : store.listDir(r.ino())) {
                    in.entries.put(e.getKey(), e.getValue());
                }
            }
        }
        if (inodes.get(ROOT_INO) == null) {
            throw new FsException(Errno.EINVAL, "metadata store has no root directory");
        }
        for (Inode in : List.copyOf(inodes.values())) {
            if (in.nlink() == 0) {
                evict(in);
            }
        }
        ctx.commit(true);
        writeback.start();
    }

    /** Opens (mounts) an image made by {@link org.iomapfs.core.store.Mkfs}. */
    public static IomapFs open(Path image, EngineConfig config) {
        ImageDevice dev = ImageDevice.open(image, false);
        MvMetaStore store;
        try {
            store = MvMetaStore.open(MvMetaStore.metaPath(image), false);
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
        Superblock a = dev.superblock();
        Superblock b = store.superblock();
        if (!a.equals(b)) {
            store.crash();
            dev.close();
            throw new FsException(Errno.EINVAL, image + ": metadata file belongs to another image (" + b.uuid() + " != " + a.uuid() + ")");
        }
        return new IomapFs(dev, store, config);
    }

    private Inode instantiate(InodeRecord r) {
        int bs = store.superblock().blockSize();
        AddressSpace mapping = new AddressSpace(r.ino(), bs, ctx.cache);
        Inode in = new Inode(r, bs, mapping, new ExtentMap(r.ino(), store, ctx.alloc));
        inodes.put(r.ino(), in);
        return in;
    }

    /**
     * evict: frees an inode with no links and no opener. The caller holds no lock (iput_final): the page-cache
     * truncation waits for writeback, which the I/O completion worker ends only after taking the ILOCK and
     * committing the metadata transaction, so it must not run inside an update or under the namespace lock.
     * truncate_inode_pages_final first, then the extent and record removal in a transaction of their own.
     */
    private void evict(Inode in) {
        if (!in.startFreeing()) {
            return;
        }
        in.iRwsem.writeLock().lock();
        in.invalidateLock.writeLock().lock();
        try {
            in.mapping.truncateRange(0, Long.MAX_VALUE);
            in.dataFork.ilock.writeLock().lock();
            try {
                store.update(() -> {
                    in.dataFork.removeAll();
                    store.dropExtents(in.ino);
                    if (in.type == FileType.DIRECTORY) {
                        store.dropDir(in.ino);
                    }
                    in.kill(store);
                });
            } finally {
                in.dataFork.ilock.writeLock().unlock();
            }
            inodes.remove(in.ino);
        } finally {
            in.invalidateLock.writeLock().unlock();
            in.iRwsem.writeLock().unlock();
        }
    }

    // --- for tests and tools ---------------------------------------------------------------------

    public FsContext context() { return ctx; }

    public Writeback writeback() { return writeback; }

    public Inode inode(String path) { return ns.resolve(path); }

    public Inode inodeOf(long fh) { return handle(fh).inode; }

    /** Closes without writeback or commit, as a killed process would (tests). */
    public void crashForTest() {
        closed = true;
        store.crash();
        dev.close();
    }

    // --- Vfs -------------------------------------------------------------------------------------

    private Handle handle(long fh) {
        Handle h = handles.get(fh);
        if (h == null) {
            throw new FsException(Errno.EBADF, "no open file with handle " + fh);
        }
        return h;
    }

    private Inode regular(Inode in, String what) {
        if (in.type == FileType.DIRECTORY) {
            throw new FsException(Errno.EISDIR, what + ": is a directory");
        }
        if (in.type != FileType.REGULAR) {
            throw new FsException(Errno.EINVAL, what + ": not a regular file");
        }
        return in;
    }

    @Override
    public FileAttr getattr(String path) { return ns.resolve(path).attr(); }

    @Override
    public FileAttr fgetattr(long fh) { return handle(fh).inode.attr(); }

    @Override
    public List<DirEntry> readdir(String path) { return ns.readdir(path); }

    @Override
    public void mkdir(String path, int mode, int uid, int gid) {
        ns.create(path, FileType.DIRECTORY, mode, uid, gid, null);
    }

    @Override
    public void rmdir(String path) { ns.rmdir(path); }

    @Override
    public long create(String path, int mode, int flags, int uid, int gid) {
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

    private long openInode(Inode in, int flags) {
        in.openCount++;
        long fh = nextFh.getAndIncrement();
        handles.put(fh, new Handle(in, flags));
        return fh;
    }

    @Override
    public int read(long fh, long offset, ByteBuffer dst) {
        Handle h = handle(fh);
        Inode in = regular(h.inode, "read");
        ctx.hooks.fire(HookPoint.READ_BEGIN, in, offset);
        if (offset < 0) {
            throw new FsException(Errno.EINVAL, "negative offset " + offset);
        }
        return OpenFlags.isDirect(h.flags) ? dio.read(in, offset, dst, ops.read) : files.read(in, offset, dst);
    }

    @Override
    public int write(long fh, long offset, ByteBuffer src) {
        Handle h = handle(fh);
        Inode in = regular(h.inode, "write");
        checkWrite(h, offset, src.remaining());
        return OpenFlags.isDirect(h.flags) ? dio.write(in, offset, src, ops.directWrite) : (int) files.write(in, offset, src);
    }

    private void checkWrite(Handle h, long offset, int len) {
        if (!OpenFlags.canWrite(h.flags)) {
            throw new FsException(Errno.EBADF, "file is not open for writing");
        }
        if (offset < 0 || offset + len < 0) {
            throw new FsException(Errno.EINVAL, "bad offset " + offset);
        }
        long max = store.superblock().sizeBytes() * 16;
        if (offset + len > max) {
            throw new FsException(Errno.EFBIG, "write past " + max + " bytes (16x the image size)");
        }
    }

    @Override
    public int writePage(long fh, long offset, ByteBuffer src) {
        Handle h = handle(fh);
        Inode in = regular(h.inode, "writepage");
        checkWrite(h, offset, src.remaining());
        return files.pageWrite(in, offset, src);
    }

    // --- in-process user mappings (the part of mm a FUSE daemon never sees) ----------------------------

    /** mmap(MAP_SHARED) of [offset, offset + length) of an open file. */
    public MappedRegion map(long fh, long offset, int length) {
        Handle h = handle(fh);
        return new MappedRegion(files, regular(h.inode, "mmap"), offset, length);
    }

    /** read(2) into a mapping's bytes [off, off + len); the mapping may be of this very file. */
    public int read(long fh, long offset, MappedRegion dst, int off, int len) {
        Handle h = handle(fh);
        Inode in = regular(h.inode, "read");
        ctx.hooks.fire(HookPoint.READ_BEGIN, in, offset);
        if (OpenFlags.isDirect(h.flags)) {
            return directReadInto(in, offset, dst, off, len);
        }
        return files.read(in, offset, dst.iov(off, len));
    }

    /** write(2) from a mapping's bytes [off, off + len); the mapping may be of this very file. */
    public int write(long fh, long offset, MappedRegion src, int off, int len) {
        Handle h = handle(fh);
        Inode in = regular(h.inode, "write");
        checkWrite(h, offset, len);
        if (OpenFlags.isDirect(h.flags)) {
            byte[] tmp = new byte[len];
            src.load(off, tmp, 0, len);
            return dio.write(in, offset, ByteBuffer.wrap(tmp), ops.directWrite);
        }
        return (int) files.write(in, offset, src.iov(off, len));
    }

    /**
     * A direct read into a mapping (Jan Kara's 2018 case): the destination pages are pinned for write
     * (page_mkwrite dirties them), the I/O fills them, and completion dirties them again without any
     * page_mkwrite (bio_set_pages_dirty / set_page_dirty_lock) before unpinning.
     */
    private int directReadInto(Inode in, long offset, MappedRegion dst, int off, int len) {
        MappedRegion.Pinned pins = dst.pinForWrite(off, len);
        try {
            ctx.hooks.fire(HookPoint.DIO_PAGES_PINNED, dst.inode(), dst.fileOffset(off));
            byte[] tmp = new byte[len];
            int n = dio.read(in, offset, ByteBuffer.wrap(tmp), ops.read);
            int done = 0;
            for (Folio f : pins.folios()) {
                long from = Math.max(f.pos(), dst.fileOffset(off));
                long to = Math.min(f.pos() + Folio.SIZE, dst.fileOffset(off) + n);
                if (from < to) {
                    System.arraycopy(tmp, (int) (from - dst.fileOffset(off)), f.data(), (int) (from - f.pos()), (int) (to - from));
                    done += (int) (to - from);
                }
                f.lock();
                try {
                    if (!f.isRemoved()) {
                        f.setRangeDirty(0, Folio.SIZE, dst.inode().blockSize);
                        f.mapping.dirtyFolio(f);
                    }
                } finally {
                    f.unlock();
                }
            }
            ctx.trace.emit(Trace.Event.DIO, dst.inode().ino, dst.fileOffset(off), done, "read into a pinned mapping");
            return n;
        } finally {
            pins.unpin();
        }
    }

    @Override
    public void flush(long fh) { handle(fh); }

    @Override
    public void release(long fh) {
        Inode gone = null;
        ns.lock.writeLock().lock();
        try {
            Handle h = handles.remove(fh);
            if (h == null) {
                throw new FsException(Errno.EBADF, "no open file with handle " + fh);
            }
            h.inode.openCount--;
            if (h.inode.openCount == 0 && h.inode.nlink() == 0) {
                gone = h.inode;
            }
        } finally {
            ns.lock.writeLock().unlock();
        }
        if (gone != null) {
            evict(gone);
        }
    }

    @Override
    public void fsync(long fh, boolean datasync) {
        Handle h = handle(fh);
        Inode in = h.inode;
        writeback.writeAndWait(in, 0, Long.MAX_VALUE);
        in.mapping.maybeClean();
        ctx.commit(true);
        int err = in.mapping.wbErr.checkAndAdvance(h.errSince);
        if (err != 0) {
            throw new FsException(Errno.EIO, "writeback of inode " + in.ino + " failed since the last fsync of this file");
        }
    }

    @Override
    public void truncate(String path, long size) { files.truncate(regular(ns.resolve(path), path), size); }

    @Override
    public void ftruncate(long fh, long size) {
        Handle h = handle(fh);
        files.truncate(regular(h.inode, "ftruncate"), size);
    }

    @Override
    public void unlink(String path) { ns.unlink(path); }

    @Override
    public void rename(String from, String to) { ns.rename(from, to); }

    @Override
    public void link(String existing, String newPath) { ns.link(existing, newPath); }

    @Override
    public void symlink(String target, String linkPath, int uid, int gid) {
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
        Inode in = ns.resolve(path);
        in.setMode(mode & 07777);
        store.update(() -> in.persist(store));
    }

    @Override
    public void chown(String path, int uid, int gid) {
        Inode in = ns.resolve(path);
        in.setOwner(uid, gid);
        store.update(() -> in.persist(store));
    }

    @Override
    public void utimens(String path, long atimeNs, long mtimeNs) {
        Inode in = ns.resolve(path);
        FileAttr a = in.attr();
        long now = Inode.now();
        long at = atimeNs == UTIME_NOW ? now : atimeNs == UTIME_OMIT ? a.atimeNs() : atimeNs;
        long mt = mtimeNs == UTIME_NOW ? now : mtimeNs == UTIME_OMIT ? a.mtimeNs() : mtimeNs;
        in.setTimes(at, mt);
        store.update(() -> in.persist(store));
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
        Handle h = handle(fh);
        if (!OpenFlags.canWrite(h.flags)) {
            throw new FsException(Errno.EBADF, "file is not open for writing");
        }
        files.fallocate(regular(h.inode, "fallocate"), mode, offset, length);
    }

    @Override
    public long lseek(long fh, long offset, int whence) {
        return files.seek(regular(handle(fh).inode, "lseek"), offset, whence);
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

    // --- Controls ----------------------------------------------------------------------------------

    private static final List<String> KEYS;

    static {
        List<String> k = new java.util.ArrayList<>(List.of("mode"));
        for (Bug b : Bug.values()) {
            k.add("bugs/" + b.id);
        }
        for (Injector.Knob knob : Injector.Knob.values()) {
            k.add("inject/" + knob.id);
        }
        k.addAll(List.of("metrics", "trace", "drop_caches", "sync", "cache_bytes", "lockdep"));
        KEYS = List.copyOf(k);
    }

    @Override
    public List<String> keys() { return KEYS; }

    private static boolean parseMode(String key, String v) {
        return switch (v) {
            case "buggy" -> true;
            case "fixed" -> false;
            default -> throw new FsException(Errno.EINVAL, key + " takes buggy or fixed, not '" + v + "'");
        };
    }

    private static Bug bug(String key) {
        Bug b = Bug.byId(key.substring("bugs/".length()));
        if (b == null) {
            throw new FsException(Errno.ENOENT, "unknown bug switch " + key + "; known: " + KEYS.stream()
                    .filter(x -> x.startsWith("bugs/")).map(x -> x.substring(5)).toList());
        }
        return b;
    }

    private static Injector.Knob knob(String key) {
        Injector.Knob k = Injector.Knob.byId(key.substring("inject/".length()));
        if (k == null) {
            throw new FsException(Errno.ENOENT, "unknown injection knob " + key + "; known: " + KEYS.stream()
                    .filter(x -> x.startsWith("inject/")).map(x -> x.substring(7)).toList());
        }
        return k;
    }

    @Override
    public boolean writable(String key) { return !key.equals("metrics") && !key.equals("lockdep"); }

    @Override
    public String read(String key) {
        if (key.startsWith("bugs/")) {
            return (ctx.bugs.buggy(bug(key)) ? "buggy" : "fixed") + "\n";
        }
        if (key.startsWith("inject/")) {
            return ctx.inject.read(knob(key)) + "\n";
        }
        return switch (key) {
            case "mode" -> {
                boolean anyBuggy = false;
                boolean allBuggy = true;
                for (Bug b : Bug.values()) {
                    anyBuggy |= ctx.bugs.buggy(b);
                    allBuggy &= ctx.bugs.buggy(b);
                }
                yield (allBuggy ? "buggy" : anyBuggy ? "mixed" : "fixed") + "\n";
            }
            case "metrics" -> metricsText();
            case "trace" -> ctx.trace.dump();
            case "drop_caches", "sync" -> "0\n";
            case "cache_bytes" -> ctx.cache.budgetBytes() + "\n";
            case "lockdep" -> lockdepText();
            default -> throw new FsException(Errno.ENOENT, "unknown control " + key);
        };
    }

    @Override
    public void write(String key, String value) {
        String v = value.trim();
        if (key.startsWith("bugs/")) {
            ctx.bugs.set(bug(key), parseMode(key, v));
            return;
        }
        if (key.startsWith("inject/")) {
            ctx.inject.write(knob(key), v);
            return;
        }
        switch (key) {
            case "mode" -> ctx.bugs.setAll(parseMode(key, v));
            case "drop_caches" -> {
                requireOne(key, v);
                dropCaches();
            }
            case "sync" -> {
                requireOne(key, v);
                sync();
            }
            case "trace" -> {
                if (!v.equals("clear")) {
                    throw new FsException(Errno.EINVAL, "trace takes clear, not '" + v + "'");
                }
                ctx.trace.clear();
            }
            case "cache_bytes" -> ctx.inject.write(Injector.Knob.CACHE_BYTES, v);
            case "metrics", "lockdep" -> throw new FsException(Errno.EACCES, key + " is read-only");
            default -> throw new FsException(Errno.ENOENT, "unknown control " + key);
        }
    }

    /** lockdep's reports, or one line saying it is off or has found nothing. */
    private static String lockdepText() {
        if (!LockOrder.LOCKDEP.isOn()) {
            return "off (mount with --lockdep)\n";
        }
        List<String> r = LockOrder.LOCKDEP.reports();
        return r.isEmpty() ? "on, no report\n" : String.join("\n", r);
    }

    private static void requireOne(String key, String v) {
        if (!v.equals("1")) {
            throw new FsException(Errno.EINVAL, key + " takes 1, not '" + v + "'");
        }
    }

    /** Prometheus text exposition of every meter (the registry is a Prometheus one unless a test chose otherwise). */
    private String metricsText() {
        if (ctx.metrics.registry instanceof PrometheusMeterRegistry p) {
            return p.scrape();
        }
        StringBuilder sb = new StringBuilder();
        ctx.metrics.registry.getMeters().forEach(m -> m.measure().forEach(ms -> sb
                .append(m.getId().getName().replace('.', '_')).append('_').append(ms.getStatistic().name().toLowerCase())
                .append(m.getId().getTags().stream().map(t -> t.getKey() + "=\"" + t.getValue() + "\"")
                        .collect(java.util.stream.Collectors.joining(",", "{", "}")))
                .append(' ').append(ms.getValue()).append('\n')));
        return sb.toString();
    }
}
