package org.iomapfs.fuse;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.types.size_t;
import ru.serce.jnrfuse.struct.FuseOperations;

/**
 * The few native functions the mount needs beyond jnr-fuse's {@code LibFuse} (which only exposes
 * {@code fuse_main_real}): libfuse 2.9's setup/session API, so that a fixed pool of Java threads can drive
 * {@code fuse_session_receive_buf}/{@code fuse_session_process_buf} (prototypes from libfuse 2.9's
 * {@code fuse.h} and {@code fuse_lowlevel.h}), and a handful of libc calls. Pointers on the hot path are
 * passed as {@code long} addresses and marked {@link IgnoreError} so a call costs no allocation.
 */
public final class Native {
    private Native() { }

    public interface LibFuse2 {
        /** helper.c: parses argv, mounts, creates the fuse object and installs signal handlers (only where SIG_DFL). */
        Pointer fuse_setup(int argc, String[] argv, FuseOperations op, @size_t long opSize,
                           PointerByReference mountpoint, IntByReference multithreaded, Pointer userData);

        /** helper.c: unmounts (skipped when the device already reports POLLERR), destroys, frees mountpoint. */
        void fuse_teardown(Pointer fuse, Pointer mountpoint);

        /** libfuse's own multithreaded loop (fuse_loop_mt.c), kept for comparison with {@link SessionLoop}. */
        int fuse_loop_mt(Pointer fuse);

        @IgnoreError long fuse_get_session(Pointer fuse);

        @IgnoreError long fuse_session_next_chan(long se, long ch);

        @IgnoreError @size_t long fuse_chan_bufsize(long ch);

        @IgnoreError int fuse_session_receive_buf(long se, long fuseBuf, long chp);

        @IgnoreError void fuse_session_process_buf(long se, long fuseBuf, long ch);

        @IgnoreError int fuse_session_exited(long se);

        @IgnoreError void fuse_session_exit(long se);

        @IgnoreError void fuse_session_reset(long se);

        /**
         * fuse_session.c (2.9): a channel with the given {@code struct fuse_chan_ops} (receive, send, destroy) on
         * {@code fd}; {@link KillPrivV2} replies to INIT through one of its own.
         */
        @IgnoreError long fuse_chan_new(long ops, int fd, @size_t long bufsize, long data);

        @IgnoreError int fuse_chan_fd(long ch);

        /** fuse_session.c (2.9): the channel's send op (fuse_kern_chan_send: writev to /dev/fuse); 0 or -errno. */
        @IgnoreError int fuse_chan_send(long ch, long iov, @size_t long count);

        /**
         * fuse_lowlevel.c (2.9): writes FUSE_NOTIFY_INVAL_INODE for node {@code ino} to the channel; 0, or -errno
         * (-ENOENT when the kernel holds no inode for that node id).
         */
        @IgnoreError int fuse_lowlevel_notify_inval_inode(long ch, long ino, long off, long len);
    }

    public interface LibC {
        int open(String path, int flags);

        int close(int fd);

        int flock(int fd, int operation);

        int umount2(String target, int flags);

        int mount(String source, String target, String fstype, long flags, String data);

        int syncfs(int fd);

        /** poll(2) on {@code nfds} struct pollfd (int fd, short events, short revents) at {@code fds}. */
        int poll(Pointer fds, @size_t long nfds, int timeout);

        int getuid();

        int getgid();

        String strerror(int errnum);
    }

    public static final int O_RDONLY = 0;
    public static final int O_CLOEXEC = 02000000;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    public static final int MNT_DETACH = 2;
    public static final short POLLPRI = 0x2;
    public static final short POLLERR = 0x8;

    /**
     * The library {@link #fuse} loads, {@code libfuse.so.2} unless this system property names another (tests name
     * an absent one to see the message a machine without libfuse2 gives). The daemon JVM inherits it.
     */
    public static final String LIBFUSE_PROPERTY = "iomapfs.libfuse";

    private static volatile LibFuse2 fuse;
    private static volatile LibC libc;

    /** libfuse 2.9; an {@link IllegalStateException} naming the library and the package to install if it is absent. */
    public static LibFuse2 fuse() {
        LibFuse2 f = fuse;
        if (f == null) {
            synchronized (Native.class) {
                if (fuse == null) {
                    // Debian's libfuse2 ships only the versioned soname; libfuse.so exists only with libfuse-dev.
                    String name = System.getProperty(LIBFUSE_PROPERTY, "libfuse.so.2");
                    try {
                        fuse = LibraryLoader.create(LibFuse2.class).failImmediately().load(name);
                    } catch (LinkageError | RuntimeException e) {
                        String why = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
                        throw new IllegalStateException("cannot load " + name + " (libfuse 2.9), which iomapfs mounts"
                            + " through: install it with 'apt-get install -y libfuse2' (Debian/Ubuntu package libfuse2)"
                            + " [" + why + "]", e);
                    }
                }
                f = fuse;
            }
        }
        return f;
    }

    public static LibC libc() {
        LibC c = libc;
        if (c == null) {
            synchronized (Native.class) {
                if (libc == null) {
                    libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
                }
                c = libc;
            }
        }
        return c;
    }

    public static int errno() {
        return Runtime.getSystemRuntime().getLastError();
    }

    public static String strerror(int errno) {
        return libc().strerror(errno);
    }
}
