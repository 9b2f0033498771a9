package org.iomapfs.fuse;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.PointerByReference;
import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.fuse.watchdog.RequestSlots;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseContext;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Mounts a {@link Vfs} (and its {@link Controls} as {@code /.iomapfs/}) through jnr-fuse over libfuse 2.9's
 * high-level API. It talks to the engine only through those two interfaces. Each request is dispatched once,
 * by its path or its handle, to the engine's files ({@link EngineOps}) or the control directory
 * ({@link ControlFs}); this class keeps the mount's lifecycle, the handle table and the errno boundary.
 *
 * <p>Routing by origin: a WRITE with {@code writepage == 1} (a store through a shared mapping, written back
 * by the kernel) goes to {@link Vfs#writePage}; every other WRITE and READ goes to {@link Vfs#write} /
 * {@link Vfs#read} on the handle, which the engine routes to direct I/O when it was opened with O_DIRECT (the
 * open flags are passed through). {@code flags}, {@code writepage} and {@code fh} are read at their real
 * offsets ({@link RawFileInfo}), never through jnr-fuse's {@code FuseFileInfo} fields.
 */
public class FuseMount extends FuseStubFS {
    /** The fallocate modes the engine models; anything else is EOPNOTSUPP before it reaches the engine. */
    private static final Set<Integer> FALLOC_MODES = new HashSet<>(List.of(
        0, Falloc.KEEP_SIZE, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, Falloc.ZERO_RANGE,
        Falloc.ZERO_RANGE | Falloc.KEEP_SIZE));

    private final Vfs vfs;
    private final EngineOps engine;
    private final ControlFs control;
    private final HandleTable handles = new HandleTable();
    private final RequestSlots requests = new RequestSlots();
    private final LongAdder getxattrs = new LongAdder();
    private final LongAdder writeRequests = new LongAdder();
    private final LongAdder writeBytes = new LongAdder();
    private volatile MeterRegistry meterRegistry;

    private volatile Pointer fuse;
    private volatile Pointer mountpointPtr;
    private volatile SessionLoop pool;
    private volatile KernelInvalidator invalidator;
    private volatile Thread stockLoop;
    private final CountDownLatch loopDone = new CountDownLatch(1);
    private Path mountPoint;

    public FuseMount(Vfs vfs, Controls controls, int ownerUid, int ownerGid) {
        this.vfs = vfs;
        this.engine = new EngineOps(vfs);
        this.control = new ControlFs(controls, () -> getContext().pid.intValue(), () -> getContext().uid.intValue(),
            ownerUid, ownerGid);
        rawCallbacks();
    }

    /**
     * The fh-carrying operations are registered with raw {@code fuse_file_info} pointers (jnr-fuse would wrap
     * them in its mis-laid-out FuseFileInfo and allocate a Struct per request), and the flags word is set so
     * libfuse does not compute paths for fh-based operations (flag_nopath), accepts NULL paths of unlinked
     * open files (flag_nullpath_ok, with hard_remove) and passes UTIME_NOW/UTIME_OMIT through.
     */
    private void rawCallbacks() {
        FuseStructs.setOperationFlags(fuseOperations);
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
    public synchronized void mount(Path mnt, MountOptions o) {
        if (fuse != null) {
            throw new IllegalStateException("already mounted");
        }
        this.mountPoint = mnt.toAbsolutePath();
        String[] argv = o.argv(mountPoint);
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
            SessionLoop loop = new SessionLoop(lib.fuse_get_session(f), o.threads(), o.maxWrite());
            pool = loop;
            // only the pool loop sees node ids (fuse_in_header), which the kernel's invalidation needs
            KernelInvalidator inv = new KernelInvalidator(loop.channel);
            loop.invalidator = inv;
            invalidator = inv;
            vfs.setCacheInvalidation(inv);
            engine.setLinkAttrs(new HardLinkAttrs(loop.channel));
            engine.setAtimeAttrs(new AtimeAttrs(loop.channel));
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
            MeterRegistry registry = meterRegistry;
            if (registry != null) {
                registerLoopMeters(registry, loop, inv);
            }
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
        KernelInvalidator inv = invalidator;
        if (inv != null) {
            // before fuse_teardown frees the channel it writes to
            vfs.setCacheInvalidation(null);
            inv.close();
            invalidator = null;
        }
        if (f != null) {
            Native.fuse().fuse_teardown(f, mountpointPtr);
            fuse = null;
        }
    }

    public int openHandles() { return handles.size(); }


    /**
     * Where {@link #mount} registers the binding's meters: {@code iomapfs_kernel_inval_total} by result (see
     * {@link KernelInvalidator#registerMeters}), {@code iomapfs_fuse_killpriv_v2}, {@code iomapfs_fuse_max_pages},
     * {@code iomapfs_fuse_write_requests_total}, {@code iomapfs_fuse_write_bytes_total} and
     * {@code iomapfs_fuse_getxattr_total}.
     * Before {@link #mount}: the meters exist before the loop serves its first request (a client that sees the mount
     * finds them).
     */
    public void registerMeters(MeterRegistry registry) {
        meterRegistry = registry;
    }

    private void registerLoopMeters(MeterRegistry registry, SessionLoop loop, KernelInvalidator inv) {
        KernelInvalidator.registerMeters(inv, registry);
        Gauge.builder("iomapfs.fuse.killpriv.v2", () -> loop.killPriv.negotiated() ? 1 : 0)
            .description("1 when the kernel took FUSE_HANDLE_KILLPRIV_V2: writes no longer ask for security.capability")
            .register(registry);
        Gauge.builder("iomapfs.fuse.max.pages", loop.init::maxPages)
            .description("pages per READ or WRITE the INIT reply asked for (FUSE_MAX_PAGES; the kernel's default is 32)")
            .register(registry);
        FunctionCounter.builder("iomapfs.fuse.write.requests", writeRequests, LongAdder::sum)
            .description("WRITE requests (a write(2) arrives in pieces of at most max_write bytes)")
            .register(registry);
        FunctionCounter.builder("iomapfs.fuse.write.bytes", writeBytes, LongAdder::sum)
            .description("bytes the WRITE requests carried")
            .register(registry);
        FunctionCounter.builder("iomapfs.fuse.getxattr", getxattrs, LongAdder::sum)
            .description("GETXATTR requests (without KILLPRIV_V2 the kernel sends one before every write)")
            .register(registry);
    }

    /** Waits until the kernel has been told of every range the engine handed out so far; false on timeout. */
    public boolean awaitInvalidations(long timeout, TimeUnit unit) throws InterruptedException {
        KernelInvalidator inv = invalidator;
        return inv == null || inv.awaitHandled(timeout, unit);
    }

    /** Ranges the engine handed out and notifications sent, for tests: {queued, sent, not_cached, failed}. */
    public long[] invalidationCounts() {
        KernelInvalidator inv = invalidator;
        return inv == null ? new long[4] : new long[] {inv.queued(), inv.sent(), inv.notCached(), inv.failed()};
    }

    /** The request each thread is serving, for the hung-task watchdog. */
    public RequestSlots requests() { return requests; }

    // ---------------------------------------------------------------- dispatch

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
            return FuseErrno.of(e);
        } catch (RuntimeException e) {
            return FuseErrno.unexpected(what.get(), e);
        } finally {
            slot.exit();
        }
    }

    /** The nodes a path belongs to: the control directory's or the engine's. */
    private NodeOps at(String path) {
        return ControlTree.isControlPath(path) ? control : engine;
    }

    /** The nodes of a request with two paths: the control directory's when either is inside it. */
    private NodeOps at(String a, String b) {
        return ControlTree.isControlPath(a) || ControlTree.isControlPath(b) ? control : engine;
    }

    private NodeOps of(HandleTable.Handle h) {
        return h.control != null ? control : engine;
    }

    /** The open file or directory of a request, or EBADF. */
    private HandleTable.Handle handle(Pointer fi) {
        return KernelInvalidator.track(invalidator, present(handles.get(RawFileInfo.fh(fi)), fi));
    }


    private static HandleTable.Handle present(HandleTable.Handle h, Pointer fi) {
        if (h == null) {
            throw new FsException(Errno.EBADF, "no open file with handle " + RawFileInfo.fh(fi));
        }
        return h;
    }

    private int register(HandleTable.Handle h, Pointer fi) {
        RawFileInfo.setFh(fi, handles.add(h));
        return 0;
    }

    // ---------------------------------------------------------------- by path

    @Override
    public int getattr(String path, FileStat stat) {
        return call(() -> "getattr " + path, () -> at(path).getattr(path, stat));
    }

    @Override
    public int readlink(String path, Pointer buf, long size) {
        return call(() -> "readlink " + path, () -> at(path).readlink(path, buf, size));
    }

    /** libfuse 2.9 calls mknod for every type but regular files (those come through create) and directories. */
    @Override
    public int mknod(String path, long mode, long rdev) {
        return call(() -> "mknod " + path, () -> {
            FuseContext c = getContext();
            return at(path).mknod(path, (int) mode, rdev, c.uid.intValue(), c.gid.intValue());
        });
    }

    @Override
    public int mkdir(String path, long mode) {
        return call(() -> "mkdir " + path, () -> {
            FuseContext c = getContext();
            return at(path).mkdir(path, (int) mode & 07777, c.uid.intValue(), c.gid.intValue());
        });
    }

    @Override
    public int rmdir(String path) {
        return call(() -> "rmdir " + path, () -> at(path).rmdir(path));
    }

    @Override
    public int unlink(String path) {
        return call(() -> "unlink " + path, () -> at(path).unlink(path));
    }

    @Override
    public int symlink(String target, String linkPath) {
        return call(() -> "symlink " + linkPath, () -> {
            FuseContext c = getContext();
            return at(linkPath).symlink(target, linkPath, c.uid.intValue(), c.gid.intValue());
        });
    }

    @Override
    public int rename(String from, String to) {
        return call(() -> "rename " + from, () -> at(from, to).rename(from, to));
    }

    @Override
    public int link(String existing, String newPath) {
        return call(() -> "link " + newPath, () -> at(existing, newPath).link(existing, newPath));
    }

    @Override
    public int chmod(String path, long mode) {
        return call(() -> "chmod " + path, () -> at(path).chmod(path, (int) mode & 07777));
    }

    @Override
    public int chown(String path, long uid, long gid) {
        // (uid_t) -1 means "leave as it is"; the int cast keeps it -1
        return call(() -> "chown " + path, () -> {
            NodeOps ops = at(path);
            int r = ops.chown(path, (int) uid, (int) gid);
            killSuidSgidIfAsked(ops, path);
            return r;
        });
    }

    @Override
    public int truncate(String path, long size) {
        return call(() -> "truncate " + path, () -> {
            NodeOps ops = at(path);
            int r = ops.truncate(path, size);
            killSuidSgidIfAsked(ops, path);
            return r;
        });
    }

    /** SETATTR with FATTR_KILL_SUIDGID, after the chown or truncate it came with (see {@link KillPrivV2}). */
    private static void killSuidSgidIfAsked(NodeOps ops, String path) {
        if (SessionLoop.killSuidSgidRequested() && ops.killSuidSgid(path, SessionLoop.callerInGroupOrCapable())) {
            SessionLoop.suidSgidKilled();
        }
    }

    /** WRITE, SETATTR, OPEN or CREATE asking to clear setuid/setgid of an open file (see {@link KillPrivV2}). */
    private void killSuidSgidIfAsked(HandleTable.Handle h) {
        if (SessionLoop.killSuidSgidRequested() && of(h).killSuidSgid(h, SessionLoop.callerInGroupOrCapable())) {
            SessionLoop.suidSgidKilled();
        }
    }

    private int rawUtimens(String path, Pointer ts) {
        return call(() -> "utimens " + path,
            () -> at(path).utimens(path, FuseStructs.utimensNs(ts, 0), FuseStructs.utimensNs(ts, 1)));
    }

    @Override
    public int statfs(String path, Statvfs st) {
        return call(() -> "statfs", () -> {
            FuseStructs.fill(st, vfs.statfs());
            return 0;
        });
    }

    @Override
    public int access(String path, int mask) {
        return call(() -> "access " + path, () -> {
            FuseContext c = getContext();
            return at(path).access(path, mask, c.uid.intValue(), c.gid.intValue());
        });
    }

    @Override
    public int setxattr(String path, String name, Pointer value, long size, int flags) {
        return call(() -> "setxattr " + path, () -> {
            byte[] v = new byte[(int) size];
            if (size > 0) {
                value.get(0, v, 0, v.length);
            }
            return at(path).setxattr(path, name, v, flags);
        });
    }

    @Override
    public int getxattr(String path, String name, Pointer value, long size) {
        getxattrs.increment();
        return call(() -> "getxattr " + path, () -> at(path).getxattr(path, name, value, size));
    }

    @Override
    public int listxattr(String path, Pointer list, long size) {
        return call(() -> "listxattr " + path, () -> at(path).listxattr(path, list, size));
    }

    @Override
    public int removexattr(String path, String name) {
        return call(() -> "removexattr " + path, () -> at(path).removexattr(path, name));
    }

    private int rawOpendir(String path, Pointer fi) {
        return call(() -> "opendir " + path, () -> register(at(path).opendir(path, fi), fi));
    }

    private int rawOpen(String path, Pointer fi) {
        // OPEN comes on the file's node (CREATE on its parent's: that handle is recorded at its first I/O)
        return call(() -> "open " + path, () -> {
            HandleTable.Handle h = KernelInvalidator.track(invalidator, at(path).open(path, fi));
            killSuidSgidIfAsked(h);
            return register(h, fi);
        });
    }

    private int rawCreate(String path, long mode, Pointer fi) {
        return call(() -> "create " + path, () -> {
            FuseContext c = getContext();
            HandleTable.Handle h = at(path).create(path, (int) mode & 07777, fi, c.uid.intValue(), c.gid.intValue());
            killSuidSgidIfAsked(h);
            return register(h, fi);
        });
    }

    // ---------------------------------------------------------------- by handle

    private int rawFgetattr(Pointer stbuf, Pointer fi) {
        return call(() -> "fgetattr", () -> {
            HandleTable.Handle h = handle(fi);
            return of(h).fgetattr(h, FileStat.of(stbuf));
        });
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, long offset, FuseFileInfo fi) {
        return call(() -> "readdir", () -> {
            HandleTable.Handle h = handle(Struct.getMemory(fi));
            if (h.dirPath == null) {
                return -FuseErrno.EBADF;
            }
            filler.apply(buf, ".", null, 0);
            filler.apply(buf, "..", null, 0);
            return of(h).readdir(h, buf, filler);
        });
    }

    private int rawRead(String path, Pointer buf, long size, long offset, Pointer fi) {
        return call(() -> "read", () -> {
            HandleTable.Handle h = handle(fi);
            return of(h).read(h, buf, size, offset);
        });
    }

    private int rawWrite(String path, Pointer buf, long size, long offset, Pointer fi) {
        writeRequests.increment();
        writeBytes.add(size);
        return call(() -> "write", () -> {
            HandleTable.Handle h = handle(fi);
            // before the data, as file_remove_privs comes before the copy in the kernel's write paths
            killSuidSgidIfAsked(h);
            return of(h).write(h, buf, size, offset, RawFileInfo.writepage(fi));
        });
    }

    private int rawFlush(String path, Pointer fi) {
        return call(() -> "flush", () -> {
            HandleTable.Handle h = handle(fi);
            return of(h).flush(h);
        });
    }

    private int rawRelease(String path, Pointer fi) {
        return call(() -> "release", () -> {
            HandleTable.Handle h = present(handles.remove(RawFileInfo.fh(fi)), fi);
            return of(h).release(h);
        });
    }

    private int rawFsync(String path, int datasync, Pointer fi) {
        return call(() -> "fsync", () -> {
            HandleTable.Handle h = handle(fi);
            return of(h).fsync(h, datasync != 0);
        });
    }

    private int rawFtruncate(String path, long size, Pointer fi) {
        return call(() -> "ftruncate", () -> {
            HandleTable.Handle h = handle(fi);
            int r = of(h).ftruncate(h, size);
            killSuidSgidIfAsked(h);
            return r;
        });
    }

    private int rawFallocate(String path, int mode, long offset, long length, Pointer fi) {
        return call(() -> "fallocate", () -> {
            if (!FALLOC_MODES.contains(mode)) {
                return -FuseErrno.EOPNOTSUPP;
            }
            HandleTable.Handle h = handle(fi);
            NodeOps ops = of(h);
            // the capability check reads /proc: only for a file that has a bit to lose
            if (ops.hasSuidSgid(h) && SessionLoop.fallocateKillsSuidSgid() && ops.killSuidSgid(h, SessionLoop.callerInGroupOrCapable())) {
                SessionLoop.suidSgidKilled();
            }
            return ops.fallocate(h, mode, offset, length);
        });
    }
}
