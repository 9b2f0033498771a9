package org.iomapfs.fuse;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Follows a remount of this daemon's mount into the engine. The kernel handles {@code mount -o remount,ro} of a
 * FUSE mount alone: fs/fuse/inode.c fuse_reconfigure syncs the file system and accepts MS_RDONLY, and no request
 * tells the daemon. /proc/self/mountinfo reports every change of the mount table to poll(2) as POLLPRI|POLLERR
 * (fs/proc_namespace.c mounts_poll), so this thread waits there and, when the superblock's ro flag of this mount
 * changed, remounts the engine the same way ({@link Vfs#setReadOnly}: read-only writes back and commits first).
 */
final class RemountWatcher implements AutoCloseable {
    private static final String MOUNTINFO = "/proc/self/mountinfo";
    /** How often the thread looks at its stop flag while no mount changes. */
    private static final int POLL_MS = 500;

    private final Path mountPoint;
    private final int minor;
    private final Vfs vfs;
    private final Thread thread;
    private final int fd;
    private volatile boolean stop;
    private boolean readOnly;

    RemountWatcher(Path mountPoint, int minor, Vfs vfs, boolean readOnly) {
        this.mountPoint = mountPoint.toAbsolutePath().normalize();
        this.minor = minor;
        this.vfs = vfs;
        this.readOnly = readOnly;
        this.fd = Native.libc().open(MOUNTINFO, Native.O_RDONLY | Native.O_CLOEXEC);
        if (fd < 0) {
            throw new IllegalStateException("cannot open " + MOUNTINFO + ": " + Native.strerror(Native.errno()));
        }
        this.thread = new Thread(this::run, "iomapfs-remount");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        Native.LibC libc = Native.libc();
        Pointer pfd = Memory.allocateDirect(Runtime.getRuntime(libc), 8);
        follow(); // a remount between the mount and this thread's first poll
        while (!stop) {
            pfd.putInt(0, fd);
            pfd.putShort(4, Native.POLLPRI);
            pfd.putShort(6, (short) 0);
            if (libc.poll(pfd, 1, POLL_MS) > 0 && (pfd.getShort(6) & (Native.POLLPRI | Native.POLLERR)) != 0 && !stop) {
                follow();
            }
        }
    }

    /** Applies this mount's current ro flag to the engine if it changed. */
    private void follow() {
        Optional<Mounts.Mount> m = Mounts.all().stream()
            .filter(x -> x.minor() == minor && x.mountPoint().equals(mountPoint.toString())).findFirst();
        if (m.isEmpty() || m.get().readOnly() == readOnly) {
            return;
        }
        boolean ro = m.get().readOnly();
        try {
            vfs.setReadOnly(ro);
            readOnly = ro;
            Log.info(ro ? "remounted read-only: dirty data written back and committed; changes are refused with EROFS"
                : "remounted read-write");
        } catch (FsException e) {
            readOnly = ro; // said once: the next change of the mount table does not repeat it
            Log.info("cannot follow the remount " + (ro ? "read-only" : "read-write") + " of " + mountPoint + ": "
                + e.getMessage());
        }
    }

    @Override
    public void close() {
        stop = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Native.libc().close(fd);
    }
}
