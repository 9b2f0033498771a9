package org.iomapfs.fuse;

import com.kenai.jffi.MemoryIO;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.PointerByReference;
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
import org.iomapfs.fuse.watchdog.RequestSlots;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseContext;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Mounts a {@link Vfs} (and its {@link Controls} as {@code /.iomapfs/}) through jnr-fuse over libfuse 2.9's
 * high-level API. It talks to the engine only through those two interfaces.
 *
 * <p>Routing by origin: a WRITE with {@code writepage == 1} (a store through a shared mapping, written back
 * by the kernel) goes to {@link Vfs#writePage}; every other WRITE and READ goes to {@link Vfs#write} /
 * {@link Vfs#read} on the handle, which the engine routes to direct I/O when it was opened with O_DIRECT (the
 * open flags are passed through). {@code flags}, {@code writepage} and {@code fh} are read at their real
 * offsets ({@link RawFileInfo}), never through jnr-fuse's {@code FuseFileInfo} fields.
 */
public class FuseMount extends FuseStubFS {
    /** How requests are pulled from /dev/fuse. */
    public enum LoopKind { POOL, STOCK }

    /**
     * Mount options; {@code allowOther} lets other users (and the control directory's non-owners) in. Without
     * {@code subtype} the type is plain {@code fuse}, as fstests' FSTYP=fuse expects ({@code findmnt -t fuse}).
     */
    public record Options(String fsName, int threads, LoopKind loop, int maxWrite, boolean allowOther, boolean debug,
                          boolean subtype) {
        public Options(String fsName, int threads, LoopKind loop, int maxWrite, boolean allowOther, boolean debug) {
            this(fsName, threads, loop, maxWrite, allowOther, debug, true);
        }

        public Options {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1");
            }
            if (maxWrite < 131072) {
                throw new IllegalArgumentException("max_write must be at least 131072");
            }
        }
    }

    private static final int ENOENT = Errno.ENOENT.code, EACCES = Errno.EACCES.code, EPERM = Errno.EPERM.code;
    private static final int EIO = Errno.EIO.code, EBADF = Errno.EBADF.code, EEXIST = Errno.EEXIST.code;
    private static final int EISDIR = Errno.EISDIR.code, ENOTDIR = Errno.ENOTDIR.code, EINVAL = Errno.EINVAL.code;
    private static final int EOPNOTSUPP = Errno.EOPNOTSUPP.code, ERANGE = 34;
    private static final int R_OK = 4, W_OK = 2, X_OK = 1;
    private static final long UTIME_NOW_NS = (1L << 30) - 1, UTIME_OMIT_NS = (1L << 30) - 2; // <sys/stat.h>
    // struct fuse_operations (libfuse 2.9 fuse.h): 38 callbacks, then the flag bitfield word
    private static final int OPS_FLAGS_OFFSET = 38 * 8;
    private static final int FLAG_NULLPATH_OK = 1, FLAG_NOPATH = 2, FLAG_UTIME_OMIT_OK = 4;

    private final Vfs vfs;
    private final Controls controls;
    private final int ownerUid;
    private final int ownerGid;
    private final long mountTimeNs = System.currentTimeMillis() * 1_000_000L;
    private final HandleTable handles = new HandleTable();
    private final RequestSlots requests = new RequestSlots();
    private volatile ControlTree controlTree;

    private volatile Pointer fuse;
    private volatile Pointer mountpointPtr;
    private volatile SessionLoop pool;
    private volatile Thread stockLoop;
    private final CountDownLatch loopDone = new CountDownLatch(1);
    private Path mountPoint;

    public FuseMount(Vfs vfs, Controls controls, int ownerUid, int ownerGid) {
        this.vfs = vfs;
        // /.iomapfs/last_error: the engine's message of a failed control write, which FUSE reduces to an errno
        this.controls = new ControlErrors(controls, () -> getContext().pid.intValue());
        this.ownerUid = ownerUid;
        this.ownerGid = ownerGid;
        this.controlTree = ControlTree.build(controls.keys());
        rawCallbacks();
    }

    /**
     * The fh-carrying operations are registered with raw {@code fuse_file_info} pointers (jnr-fuse would wrap
     * them in its mis-laid-out FuseFileInfo and allocate a Struct per request), and the flags word is set so
     * libfuse does not compute paths for fh-based operations (flag_nopath), accepts NULL paths of unlinked
     * open files (flag_nullpath_ok, with hard_remove) and passes UTIME_NOW/UTIME_OMIT through.
     */
    private void rawCallbacks() {
        if (Struct.size(fuseOperations) != OPS_FLAGS_OFFSET + 8 + 6 * 8) {
            throw new IllegalStateException("unexpected struct fuse_operations size " + Struct.size(fuseOperations));
        }
        Pointer ops = Struct.getMemory(fuseOperations);
        ops.putInt(OPS_FLAGS_OFFSET, ops.getInt(OPS_FLAGS_OFFSET) | FLAG_NULLPATH_OK | FLAG_NOPATH | FLAG_UTIME_OMIT_OK);
        fuseOperations.read.set(this::rawRead);
        fuseOperations.write.set(this::rawWrite);
        fuseOperations.open.set(this::rawOpen);
        fuseOperations.create.set(this::rawCreate);
        fuseOperations.release.set(this::rawRelease);
        fuseOperations.flush.set(this::rawFlush);
        fuseOperations.fsync.set(this::rawFsync);
        fuseOperations.ftruncate.set(this::rawFtruncate);
        fuseOperations.fgetattr.set((path, stbuf, fi) -> rawFgetattr(stbuf, fi));
        fuseOperations.fallocate.set(this::rawFallocate);
        fuseOperations.opendir.set(this::rawOpendir);
        fuseOperations.releasedir.set((path, fi) -> { handles.remove(RawFileInfo.fh(fi)); return 0; });
        fuseOperations.utimens.set(this::rawUtimens);
    }

    // ---------------------------------------------------------------- mount lifecycle

    /**
     * Mounts at {@code mnt} (fuse_setup: mount(2) or fusermount, then the fuse object) and starts serving
     * requests. Never passes {@code -s}: the races this filesystem reproduces need concurrent requests.
     */
    public synchronized void mount(Path mnt, Options o) {
        if (fuse != null) {
            throw new IllegalStateException("already mounted");
        }
        this.mountPoint = mnt.toAbsolutePath();
        StringBuilder opts = new StringBuilder();
        opts.append("fsname=").append(escapeOpt(o.fsName()));
        if (o.subtype()) {
            opts.append(",subtype=iomapfs");
        }
        // big_writes: otherwise libfuse 2 lets the kernel split writes to 4 KiB
        opts.append(",big_writes,max_write=").append(o.maxWrite()).append(",max_read=").append(o.maxWrite());
        // use_ino: st_ino is the engine's; hard_remove: unlink goes to the engine instead of a .fuse_hidden rename
        opts.append(",use_ino,hard_remove");
        if (o.allowOther()) {
            // other users may enter, so the kernel must enforce the engine's modes and owners
            opts.append(",allow_other,default_permissions");
        }
        String[] argv = o.debug()
            ? new String[] {"iomapfs", mountPoint.toString(), "-f", "-d", "-o", opts.toString()}
            : new String[] {"iomapfs", mountPoint.toString(), "-f", "-o", opts.toString()};
        PointerByReference mp = new PointerByReference();
        IntByReference mt = new IntByReference();
        Native.LibFuse2 lib = Native.fuse();
        Pointer f = lib.fuse_setup(argv.length, argv, fuseOperations, Struct.size(fuseOperations), mp, mt, null);
        if (f == null) {
            throw new FsException(Errno.EIO, "libfuse could not mount " + mountPoint + " (see the messages above)");
        }
        fuse = f;
        mountpointPtr = mp.getValue();
        if (o.loop() == LoopKind.POOL) {
            SessionLoop loop = new SessionLoop(lib.fuse_get_session(f), o.threads());
            pool = loop;
            Thread waiter = new Thread(() -> {
                try {
                    while (!loop.join(1, TimeUnit.DAYS)) {
                        // keep waiting
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    loopDone.countDown();
                }
            }, "fuse-pool-waiter");
            waiter.setDaemon(true);
            loop.start();
            waiter.start();
        } else {
            Thread t = new Thread(() -> {
                try {
                    lib.fuse_loop_mt(f);
                } finally {
                    loopDone.countDown();
                }
            }, "fuse-stock-loop");
            t.setDaemon(true);
            stockLoop = t;
            t.start();
        }
    }

    public Path mountPoint() { return mountPoint; }

    /** Waits until the request loop has ended (the file system was unmounted); false on timeout. */
    public boolean awaitLoopEnd(long timeout, TimeUnit unit) throws InterruptedException {
        return loopDone.await(timeout, unit);
    }

    /** After the loop ended: fuse_teardown (unmounts if still mounted, destroys the session). */
    public synchronized void teardown() {
        Pointer f = fuse;
        if (f != null) {
            Native.fuse().fuse_teardown(f, mountpointPtr);
            fuse = null;
        }
    }

    public int openHandles() { return handles.size(); }

    /** The request each thread is serving, for the hung-task watchdog. */
    public RequestSlots requests() { return requests; }

    private static String escapeOpt(String s) {
        return s.replace("\\", "\\\\").replace(",", "\\,");
    }

    // ---------------------------------------------------------------- helpers

    private static int err(FsException e) {
        return -e.errno().code;
    }

    @FunctionalInterface
    private interface Op {
        int run();
    }

    /**
     * Runs one FUSE operation: an engine error becomes its errno; anything else is logged and becomes EIO. The
     * thread's request slot says, while it runs, that this thread serves {@code what} (the hung-task watchdog).
     */
    private int call(Supplier<String> what, Op op) {
        RequestSlots.Slot slot = requests.enter(what);
        try {
            return op.run();
        } catch (FsException e) {
            return err(e);
        } catch (RuntimeException e) {
            return unexpected(what.get(), e);
        } finally {
            slot.exit();
        }
    }

    private static int unexpected(String op, Throwable t) {
        Log.error("unexpected failure in " + op, t);
        return -EIO;
    }

    private int callerUid() {
        return getContext().uid.intValue();
    }

    private ControlTree tree() {
        List<String> keys = controls.keys();
        ControlTree t = controlTree;
        if (!t.keys().equals(keys)) {
            t = ControlTree.build(keys);
            controlTree = t;
        }
        return t;
    }

    private static ByteBuffer nativeView(Pointer p, long size) {
        long addr = p.address();
        ByteBuffer b = SessionLoop.viewIfWorker(addr, (int) size);
        return b != null ? b : MemoryIO.getInstance().newDirectByteBuffer(addr, (int) size);
    }

    private static void fill(FileStat st, FileAttr a) {
        st.st_mode.set(a.stMode());
        st.st_ino.set(a.ino());
        st.st_nlink.set(a.nlink());
        st.st_uid.set(a.uid());
        st.st_gid.set(a.gid());
        st.st_size.set(a.size());
        st.st_blocks.set(a.blocks());
        st.st_blksize.set(a.blockSize());
        setTime(st.st_atim, a.atimeNs());
        setTime(st.st_mtim, a.mtimeNs());
        setTime(st.st_ctim, a.ctimeNs());
    }

    private static void setTime(ru.serce.jnrfuse.struct.Timespec ts, long ns) {
        ts.tv_sec.set(Math.floorDiv(ns, 1_000_000_000L));
        ts.tv_nsec.set(Math.floorMod(ns, 1_000_000_000L));
    }

    private void fillControl(FileStat st, ControlTree.Node n) {
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
        setTime(st.st_atim, mountTimeNs);
        setTime(st.st_mtim, mountTimeNs);
        setTime(st.st_ctim, mountTimeNs);
    }

    /** Errors for namespace changes that touch the control directory. */
    private int controlNamespaceError(String path) {
        return path.equals(ControlTree.ROOT) || tree().lookup(path) != null ? -EEXIST : -EACCES;
    }

    // ---------------------------------------------------------------- metadata operations

    @Override
    public int getattr(String path, FileStat stat) {
        return call(() -> "getattr " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                ControlTree.Node n = tree().lookup(path);
                if (n == null) {
                    return -ENOENT;
                }
                fillControl(stat, n);
                return 0;
            }
            fill(stat, vfs.getattr(path));
            return 0;
        });
    }

    private int rawFgetattr(Pointer stbuf, Pointer fi) {
        return call(() -> "fgetattr", () -> {
            HandleTable.Handle h = handles.get(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            FileStat st = FileStat.of(stbuf);
            if (h.control != null) {
                fillControl(st, h.control);
            } else if (h.dirPath != null) {
                fill(st, vfs.getattr(h.dirPath));
            } else {
                fill(st, vfs.fgetattr(h.engineFh));
            }
            return 0;
        });
    }

    @Override
    public int readlink(String path, Pointer buf, long size) {
        return call(() -> "readlink " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return tree().lookup(path) == null ? -ENOENT : -EINVAL;
            }
            byte[] target = vfs.readlink(path).getBytes(StandardCharsets.UTF_8);
            int n = (int) Math.min(target.length, size - 1);
            buf.put(0, target, 0, n);
            buf.putByte(n, (byte) 0);
            return 0;
        });
    }

    @Override
    public int mkdir(String path, long mode) {
        return call(() -> "mkdir " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return controlNamespaceError(path);
            }
            FuseContext c = getContext();
            vfs.mkdir(path, (int) mode & 07777, c.uid.intValue(), c.gid.intValue());
            return 0;
        });
    }

    @Override
    public int rmdir(String path) {
        return call(() -> "rmdir " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return tree().lookup(path) == null ? -ENOENT : -EPERM;
            }
            vfs.rmdir(path);
            return 0;
        });
    }

    @Override
    public int unlink(String path) {
        return call(() -> "unlink " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return tree().lookup(path) == null ? -ENOENT : -EPERM;
            }
            vfs.unlink(path);
            return 0;
        });
    }

    @Override
    public int symlink(String target, String linkPath) {
        return call(() -> "symlink " + linkPath, () -> {
            if (ControlTree.isControlPath(linkPath)) {
                return controlNamespaceError(linkPath);
            }
            FuseContext c = getContext();
            vfs.symlink(target, linkPath, c.uid.intValue(), c.gid.intValue());
            return 0;
        });
    }

    @Override
    public int rename(String from, String to) {
        return call(() -> "rename " + from, () -> {
            if (ControlTree.isControlPath(from) || ControlTree.isControlPath(to)) {
                return -EPERM;
            }
            vfs.rename(from, to);
            return 0;
        });
    }

    @Override
    public int link(String existing, String newPath) {
        return call(() -> "link " + newPath, () -> {
            if (ControlTree.isControlPath(existing)) {
                return -EPERM;
            }
            if (ControlTree.isControlPath(newPath)) {
                return controlNamespaceError(newPath);
            }
            vfs.link(existing, newPath);
            return 0;
        });
    }

    @Override
    public int chmod(String path, long mode) {
        return call(() -> "chmod " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return tree().lookup(path) == null ? -ENOENT : -EPERM;
            }
            vfs.chmod(path, (int) mode & 07777);
            return 0;
        });
    }

    @Override
    public int chown(String path, long uid, long gid) {
        return call(() -> "chown " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return tree().lookup(path) == null ? -ENOENT : -EPERM;
            }
            // (uid_t) -1 means "leave as it is"; the int cast keeps it -1
            vfs.chown(path, (int) uid, (int) gid);
            return 0;
        });
    }

    @Override
    public int truncate(String path, long size) {
        return call(() -> "truncate " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                ControlTree.Node n = tree().lookup(path);
                if (n == null) {
                    return -ENOENT;
                }
                // open(O_TRUNC) of a control file: allowed to whoever may write it; the value changes on write
                return n.isDir() ? -EISDIR : controlWriteCheck(n, callerUid());
            }
            vfs.truncate(path, size);
            return 0;
        });
    }

    private int rawFtruncate(String path, long size, Pointer fi) {
        return call(() -> "ftruncate", () -> {
            HandleTable.Handle h = handles.get(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            if (h.control != null) {
                return 0; // the handle was opened for writing, so the caller was already checked
            }
            vfs.ftruncate(h.engineFh, size);
            return 0;
        });
    }

    private int rawUtimens(String path, Pointer ts) {
        return call(() -> "utimens " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return tree().lookup(path) == null ? -ENOENT : -EPERM;
            }
            // struct timespec[2] (LP64): tv_sec @0, tv_nsec @8; UTIME_NOW/UTIME_OMIT arrive as they are
            // because flag_utime_omit_ok is set
            vfs.utimens(path, timeNs(ts, 0), timeNs(ts, 16));
            return 0;
        });
    }

    private static long timeNs(Pointer ts, int off) {
        if (ts == null) {
            return Vfs.UTIME_NOW;
        }
        long nsec = ts.getLong(off + 8);
        if (nsec == UTIME_NOW_NS) {
            return Vfs.UTIME_NOW;
        }
        if (nsec == UTIME_OMIT_NS) {
            return Vfs.UTIME_OMIT;
        }
        return ts.getLong(off) * 1_000_000_000L + nsec;
    }

    @Override
    public int statfs(String path, Statvfs st) {
        return call(() -> "statfs", () -> {
            StatFs s = vfs.statfs();
            st.f_bsize.set(s.blockSize());
            st.f_frsize.set(s.blockSize());
            st.f_blocks.set(s.totalBlocks());
            st.f_bfree.set(s.freeBlocks());
            st.f_bavail.set(s.availBlocks());
            st.f_files.set(s.files());
            st.f_ffree.set(s.freeFiles());
            st.f_favail.set(s.freeFiles());
            st.f_namemax.set(s.nameMax());
            return 0;
        });
    }

    @Override
    public int access(String path, int mask) {
        return call(() -> "access " + path, () -> {
            int uid = callerUid();
            if (ControlTree.isControlPath(path)) {
                ControlTree.Node n = tree().lookup(path);
                if (n == null) {
                    return -ENOENT;
                }
                if ((mask & W_OK) != 0) {
                    return n.isDir() ? -EACCES : controlWriteCheck(n, uid);
                }
                return (mask & X_OK) != 0 && !n.isDir() ? -EACCES : 0;
            }
            FileAttr a = vfs.getattr(path);
            if (mask == 0) {
                return 0;
            }
            int perm = a.mode();
            int granted;
            if (uid == 0) {
                // root: everything but executing a file nobody may execute (like generic_permission)
                granted = R_OK | W_OK | ((a.type() == FileType.DIRECTORY || (perm & 0111) != 0) ? X_OK : 0);
            } else if (uid == a.uid()) {
                granted = (perm >> 6) & 7;
            } else if (getContext().gid.intValue() == a.gid()) {
                granted = (perm >> 3) & 7;
            } else {
                granted = perm & 7;
            }
            return (mask & ~granted) == 0 ? 0 : -EACCES;
        });
    }

    // ---------------------------------------------------------------- directories

    private int rawOpendir(String path, Pointer fi) {
        return call(() -> "opendir " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                ControlTree.Node n = tree().lookup(path);
                if (n == null) {
                    return -ENOENT;
                }
                if (!n.isDir()) {
                    return -ENOTDIR;
                }
                RawFileInfo.setFh(fi, handles.add(new HandleTable.Handle(-1, 0, path, n)));
                return 0;
            }
            FileAttr a = vfs.getattr(path);
            if (a.type() != FileType.DIRECTORY) {
                return -ENOTDIR;
            }
            RawFileInfo.setFh(fi, handles.add(new HandleTable.Handle(-1, RawFileInfo.flags(fi), path, null)));
            return 0;
        });
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, long offset, FuseFileInfo fi) {
        return call(() -> "readdir", () -> {
            HandleTable.Handle h = handles.get(RawFileInfo.fh(Struct.getMemory(fi)));
            if (h == null || h.dirPath == null) {
                return -EBADF;
            }
            filler.apply(buf, ".", null, 0);
            filler.apply(buf, "..", null, 0);
            if (h.control != null) {
                for (String child : h.control.children()) {
                    if (filler.apply(buf, child, null, 0) != 0) {
                        return -ERANGE;
                    }
                }
                return 0;
            }
            for (DirEntry e : vfs.readdir(h.dirPath)) {
                if (e.name().equals(".") || e.name().equals("..")) {
                    continue;
                }
                if (filler.apply(buf, e.name(), null, 0) != 0) {
                    return -ERANGE;
                }
            }
            if (h.dirPath.equals("/")) {
                filler.apply(buf, ControlTree.NAME, null, 0);
            }
            return 0;
        });
    }

    // ---------------------------------------------------------------- files

    private int controlWriteCheck(ControlTree.Node n, int uid) {
        if (uid != ownerUid) {
            return -EACCES; // only the mount's owner may change knobs
        }
        return controls.writable(n.key()) ? 0 : -EACCES;
    }

    private int openControl(String path, Pointer fi) {
        ControlTree.Node n = tree().lookup(path);
        if (n == null) {
            return -ENOENT;
        }
        if (n.isDir()) {
            return -EISDIR;
        }
        int flags = RawFileInfo.flags(fi);
        HandleTable.Handle h = new HandleTable.Handle(-1, flags, null, n);
        if (OpenFlags.canWrite(flags)) {
            int rc = controlWriteCheck(n, callerUid());
            if (rc != 0) {
                return rc;
            }
        }
        if ((flags & OpenFlags.O_ACCMODE) != OpenFlags.O_WRONLY) {
            h.snapshot = controls.read(n.key()).getBytes(StandardCharsets.UTF_8);
        }
        RawFileInfo.setDirectIo(fi); // values change under the kernel; never cache them, ignore st_size
        RawFileInfo.setFh(fi, handles.add(h));
        return 0;
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
     * reproduces) is hidden by a kept cache just as by an open one: verify after a kernel cache drop or
     * with O_DIRECT.
     */
    private void keepCache(Pointer fi, long efh) {
        FileAttr a = vfs.fgetattr(efh);
        if (a.type() == FileType.REGULAR && a.nlink() == 1) {
            RawFileInfo.setKeepCache(fi);
        }
    }

    private int rawOpen(String path, Pointer fi) {
        return call(() -> "open " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                return openControl(path, fi);
            }
            int flags = RawFileInfo.flags(fi);
            long efh = vfs.open(path, flags);
            keepCache(fi, efh);
            RawFileInfo.setFh(fi, handles.add(new HandleTable.Handle(efh, flags, null, null)));
            return 0;
        });
    }

    private int rawCreate(String path, long mode, Pointer fi) {
        return call(() -> "create " + path, () -> {
            if (ControlTree.isControlPath(path)) {
                ControlTree.Node n = tree().lookup(path);
                if (n != null && !n.isDir() && (RawFileInfo.flags(fi) & OpenFlags.O_EXCL) == 0) {
                    return openControl(path, fi);
                }
                return controlNamespaceError(path);
            }
            int flags = RawFileInfo.flags(fi);
            FuseContext c = getContext();
            long efh = vfs.create(path, (int) mode & 07777, flags, c.uid.intValue(), c.gid.intValue());
            keepCache(fi, efh);
            RawFileInfo.setFh(fi, handles.add(new HandleTable.Handle(efh, flags, null, null)));
            return 0;
        });
    }

    private int rawRead(String path, Pointer buf, long size, long offset, Pointer fi) {
        return call(() -> "read", () -> {
            HandleTable.Handle h = handles.get(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            if (h.control != null) {
                byte[] v = h.snapshot;
                if (v == null) {
                    return -EBADF;
                }
                if (offset >= v.length) {
                    return 0;
                }
                int n = (int) Math.min(size, v.length - offset);
                buf.put(0, v, (int) offset, n);
                return n;
            }
            // libfuse 2.9 mallocs the reply buffer per READ (fuse_fs_read): wrap it, no copy
            return vfs.read(h.engineFh, offset, MemoryIO.getInstance().newDirectByteBuffer(buf.address(), (int) size));
        });
    }

    private int rawWrite(String path, Pointer buf, long size, long offset, Pointer fi) {
        return call(() -> "write", () -> {
            HandleTable.Handle h = handles.get(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            if (h.control != null) {
                return controlWrite(h, buf, (int) size, offset);
            }
            // the payload sits in the receive buffer (fuse_fs_write_buf passes buf[0].mem straight through)
            ByteBuffer src = nativeView(buf, size);
            if (RawFileInfo.writepage(fi)) {
                return vfs.writePage(h.engineFh, offset, src);
            }
            return vfs.write(h.engineFh, offset, src);
        });
    }

    /** Applies what this handle has written so far, so that a bad value fails the write(2) that sent it. */
    private int controlWrite(HandleTable.Handle h, Pointer buf, int size, long offset) {
        if (!OpenFlags.canWrite(h.openFlags)) {
            return -EBADF;
        }
        if (offset < 0 || offset > 65536) {
            return -EINVAL;
        }
        synchronized (h) {
            byte[] data = new byte[size];
            buf.get(0, data, 0, size);
            byte[] all = Arrays.copyOf(h.written, Math.max(h.written.length, (int) offset + size));
            System.arraycopy(data, 0, all, (int) offset, size);
            controls.write(h.control.key(), new String(all, StandardCharsets.UTF_8).strip());
            h.written = all;
            return size;
        }
    }

    private int rawFlush(String path, Pointer fi) {
        return call(() -> "flush", () -> {
            HandleTable.Handle h = handles.get(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            if (h.control == null) {
                vfs.flush(h.engineFh);
            }
            return 0;
        });
    }

    private int rawRelease(String path, Pointer fi) {
        return call(() -> "release", () -> {
            HandleTable.Handle h = handles.remove(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            if (h.control == null) {
                vfs.release(h.engineFh);
            }
            return 0;
        });
    }

    private int rawFsync(String path, int datasync, Pointer fi) {
        return call(() -> "fsync", () -> {
            HandleTable.Handle h = handles.get(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            if (h.control == null) {
                vfs.fsync(h.engineFh, datasync != 0);
            }
            return 0;
        });
    }

    /** The fallocate modes the engine models; anything else is EOPNOTSUPP before it reaches the engine. */
    private static final Set<Integer> FALLOC_MODES = new HashSet<>(List.of(
        0, Falloc.KEEP_SIZE, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, Falloc.ZERO_RANGE,
        Falloc.ZERO_RANGE | Falloc.KEEP_SIZE));

    private int rawFallocate(String path, int mode, long offset, long length, Pointer fi) {
        return call(() -> "fallocate", () -> {
            if (!FALLOC_MODES.contains(mode)) {
                return -EOPNOTSUPP;
            }
            HandleTable.Handle h = handles.get(RawFileInfo.fh(fi));
            if (h == null) {
                return -EBADF;
            }
            if (h.control != null) {
                return -EOPNOTSUPP;
            }
            vfs.fallocate(h.engineFh, mode, offset, length);
            return 0;
        });
    }
}
