package org.iomapfs.fuse;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.fuse.watchdog.DaemonMeters;
import org.iomapfs.fuse.watchdog.HungTaskWatchdog;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * One mounted image in the foreground: checks, image lock, engine, control settings, mount, and the way out.
 * Whatever ends the mount (an unmount from outside, or SIGTERM/SIGINT which runs {@link #stop}), the daemon
 * then tears the session down, closes the engine (flush dirty data, commit metadata) and releases the image.
 * A hung-task watchdog ({@link HungTaskWatchdog}) reports requests and engine threads that stop making progress;
 * a hung daemon that gets SIGTERM aborts its FUSE connection and exits without waiting for the stuck threads.
 * The shutdown hook is in place before the mount is: a signal that arrives while {@link #start} is still running
 * waits for it to mount or fail, then stops what it mounted as any other (until 2026-12-05 the hook came after the
 * mount, so a SIGTERM in between left the mount behind and lost every byte not yet written back).
 */
public final class Daemon {
    /**
     * A failure to mount, with the one-line message the user sees; {@code badInput} when an argument cannot be
     * used as given (exit status 2, not 1): a path that is missing or of the wrong kind, a file that is not an
     * iomapfs image or lacks its metadata, a bad setting.
     */
    public static final class MountFailure extends RuntimeException {
        private final boolean badInput;

        public MountFailure(String message) { this(message, false); }

        public MountFailure(String message, boolean badInput) {
            super(message);
            this.badInput = badInput;
        }

        public boolean badInput() { return badInput; }
    }

    /**
     * {@code controls}: other control keys (profile, invalidate), written before mode, bugs and injections, so
     * that an injection given on its own overrides the same knob of a profile.
     */
    public record Settings(Path image, Path mountPoint, String mode, Map<String, String> bugs,
                           Map<String, String> injects, long cacheBytes, MountOptions options,
                           Map<String, String> controls) {
        public Settings(Path image, Path mountPoint, String mode, Map<String, String> bugs,
                        Map<String, String> injects, long cacheBytes, MountOptions options) {
            this(image, mountPoint, mode, bugs, injects, cacheBytes, options, Map.of());
        }
    }

    private final Settings s;
    private FuseMount mount;
    private Engine.Opened engine;
    private ImageLock lock;
    private final CountDownLatch closed = new CountDownLatch(1);
    /** Counted down when {@link #start} has mounted ({@link #mounted}) or failed: what a signal's stop waits for. */
    private final CountDownLatch started = new CountDownLatch(1);
    private volatile boolean mounted;
    /** Opened by {@link #stop}; what {@link #HOLD_START_PROPERTY} holds the start on. */
    private final CountDownLatch signalled = new CountDownLatch(1);
    /** How long a signal during {@link #start} waits for it (opening a large image's metadata takes a while). */
    private static final long START_WAIT_SECONDS = 120;
    private final Thread shutdownHook = new Thread(this::stop, "iomapfs-shutdown");
    private volatile boolean stopping;
    private int deviceMinor = -1;
    private long hungTimeoutSeconds = 30;
    private HungTaskWatchdog watchdog;
    private RemountWatcher remounts;
    private Path stateFile;

    public Daemon(Settings s) { this.s = s; }

    /** The hung-task timeout in seconds (default 30; 0 turns the watchdog off). Call before {@link #start}. */
    public Daemon hungTimeout(long seconds) {
        if (seconds < 0) {
            throw new MountFailure("--hung-timeout must be 0 (off) or a number of seconds, not " + seconds);
        }
        this.hungTimeoutSeconds = seconds;
        return this;
    }

    /** The checks a mount makes before touching anything; the CLI runs them too, for a fast clear error. */
    public static void checkMountPoint(Path mnt) {
        if (!Files.exists(mnt)) {
            throw new MountFailure("mount point " + mnt + " does not exist", true);
        }
        if (!Files.isDirectory(mnt)) {
            throw new MountFailure("mount point " + mnt + " is not a directory", true);
        }
        Optional<Mounts.Mount> m = Mounts.at(mnt);
        if (m.isPresent()) {
            throw new MountFailure("mount point " + mnt + " is busy: " + m.get().fsType() + " from "
                + m.get().source() + " is already mounted there");
        }
        try (Stream<Path> entries = Files.list(mnt)) {
            if (entries.findAny().isPresent()) {
                throw new MountFailure("mount point " + mnt + " is busy: the directory is not empty", true);
            }
        } catch (IOException e) {
            throw new MountFailure("cannot read mount point " + mnt + ": " + e.getMessage());
        }
    }

    public static void checkImage(Path image) {
        if (!Files.exists(image)) {
            throw new MountFailure("image " + image + " does not exist (create it with: iomapfs mkfs " + image + ")", true);
        }
        if (!Files.isRegularFile(image)) {
            throw new MountFailure("image " + image + " is not a regular file", true);
        }
    }

    /** libfuse 2.9 loads (the first use would otherwise fail deep in jnr-fuse with a bare linkage error). */
    public static void checkFuseLibrary() {
        try {
            Native.fuse();
        } catch (IllegalStateException e) {
            throw new MountFailure(e.getMessage());
        }
    }

    public static String inUseMessage(Path image) {
        return "image " + image + " is already in use" + Mounts.ofImage(image)
            .map(m -> " (mounted at " + m.mountPoint() + ")").orElse(" by another iomapfs process");
    }

    /**
     * Test hook: when "true", {@link #start} holds once the mount serves, before it returns, until a signal's
     * {@link #stop} runs, so that a test's SIGTERM lands in that window by construction.
     */
    public static final String HOLD_START_PROPERTY = "iomapfs.daemon.holdStartForSignal";

    /** Checks, locks, opens, applies settings and mounts; throws {@link MountFailure} with the reason. */
    public void start() {
        try {
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            throw new MountFailure("stopped by a signal before mounting " + s.mountPoint());
        }
        boolean ok = false;
        try {
            mountAndServe();
            ok = true;
        } finally {
            mounted = ok;
            if (!ok) {
                removeShutdownHook();
            }
            started.countDown();
        }
    }

    private void mountAndServe() {
        checkImage(s.image());
        checkMountPoint(s.mountPoint());
        checkFuseLibrary();
        try {
            lock = ImageLock.tryAcquire(s.image());
        } catch (IllegalStateException e) {
            throw new MountFailure(e.getMessage());
        }
        if (lock == null) {
            throw new MountFailure(inUseMessage(s.image()));
        }
        try {
            try {
                engine = Engine.load().open(s.image(), s.cacheBytes(), s.options().atime(), s.options().readOnly());
            } catch (FsException e) {
                // ENOENT/EINVAL: not an iomapfs image, or its metadata is missing or unreadable (the engine
                // refuses them before changing anything); EBUSY, EIO: the image is fine but cannot be used now
                boolean bad = e.errno() == Errno.ENOENT || e.errno() == Errno.EINVAL;
                throw new MountFailure("cannot open image " + s.image() + ": " + e.getMessage(), bad);
            } catch (IllegalStateException e) {
                throw new MountFailure("cannot open image " + s.image() + ": " + e.getMessage());
            }
            applySettings(engine.controls());
            DaemonMeters meters = new DaemonMeters();
            mount = new FuseMount(engine.vfs(), meters.appendTo(engine.controls()), Native.libc().getuid(),
                Native.libc().getgid());
            stateFile = DaemonState.file(s.mountPoint(), Native.libc().getuid());
            watchdog = new HungTaskWatchdog(hungTimeoutSeconds, mount.requests(), HungTaskWatchdog.ENGINE_THREADS,
                meters.registry(), Log::info, this::publish);
            // published before the mount is visible: whoever sees the mount finds the state too
            publish(watchdog.status());
            mount.registerMeters(meters.registry());
            try {
                mount.mount(s.mountPoint(), s.options());
                deviceMinor = Mounts.at(s.mountPoint()).map(Mounts.Mount::minor).orElse(-1);
                remounts = new RemountWatcher(s.mountPoint(), deviceMinor, engine.vfs(), s.options().readOnly());
                remounts.start();
            } catch (FsException e) {
                deleteState();
                throw new MountFailure(e.getMessage());
            }
            watchdog.start();
            Log.info("mount options: " + (s.options().readOnly() ? "ro" : "rw") + "," + s.options().atime()
                + (s.options().readOnly() ? " (image opened read-only; changes are refused with EROFS)" : ""));
            holdStartForSignal();
        } catch (RuntimeException e) {
            if (remounts != null) {
                remounts.close();
            }
            if (engine != null) {
                closeEngineQuietly();
            }
            lock.close();
            throw e;
        }
    }

    private void holdStartForSignal() {
        if (Boolean.getBoolean(HOLD_START_PROPERTY)) {
            Log.info("holding the start until a signal (" + HOLD_START_PROPERTY + ")");
            try {
                signalled.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** After a failed start: a JVM that goes on must not run stop for a mount that never was. */
    private void removeShutdownHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // shutting down already: the hook runs, finds nothing mounted and returns
        }
    }

    private void applySettings(Controls c) {
        Map<String, String> writes = new LinkedHashMap<>(s.controls());
        if (s.mode() != null) {
            writes.put("mode", s.mode());
        }
        s.bugs().forEach((k, v) -> writes.put("bugs/" + k, v));
        s.injects().forEach((k, v) -> writes.put("inject/" + k, v));
        List<String> keys = c.keys();
        for (Map.Entry<String, String> w : writes.entrySet()) {
            String key = w.getKey();
            if (!keys.contains(key)) {
                String dir = key.contains("/") ? key.substring(0, key.indexOf('/') + 1) : "";
                List<String> known = new ArrayList<>();
                for (String k : keys) {
                    if (!dir.isEmpty() && k.startsWith(dir)) {
                        known.add(k.substring(dir.length()));
                    }
                }
                String what = dir.isEmpty() ? "setting '" + key + "'" : "unknown " + (dir.equals("bugs/") ? "bug" :
                    dir.equals("inject/") ? "injection knob" : "key") + " '" + key.substring(dir.length()) + "'";
                throw new MountFailure((dir.isEmpty() ? "unknown " : "") + what
                    + (known.isEmpty() ? "" : " (known: " + String.join(", ", known) + ")"), true);
            }
            try {
                c.write(key, w.getValue());
            } catch (FsException e) {
                throw new MountFailure("bad value '" + w.getValue() + "' for " + key + ": " + e.getMessage(), true);
            }
        }
    }

    /** Serves until the file system is unmounted, then closes everything. Returns the exit status. */
    public int runUntilUnmounted() throws InterruptedException {
        try {
            mount.awaitLoopEnd(Long.MAX_VALUE, TimeUnit.DAYS);
            Log.info("request loop ended; closing the engine");
            remounts.close();
            mount.teardown();
            engine.vfs().close();
            logCountersAtExit();
            Log.info("engine closed; image " + s.image() + " released");
            return 0;
        } catch (RuntimeException e) {
            Log.error("closing the engine failed", e);
            return 1;
        } finally {
            watchdog.close();
            deleteState();
            lock.close();
            closed.countDown();
        }
    }

    /**
     * The bug-fired and WARN counters of this daemon's life, in one line ({@link #COUNTERS_AT_EXIT} then the
     * non-zero samples as in {@code /.iomapfs/metrics}): a mount that is gone can no longer be read, and fstests
     * unmounts SCRATCH inside a test, so xfstests-shim's per-test attribution reads them from the log.
     */
    private void logCountersAtExit() {
        try {
            StringBuilder b = new StringBuilder(COUNTERS_AT_EXIT);
            for (String line : engine.controls().read("metrics").split("\n")) {
                if ((line.startsWith("iomapfs_bug_fired") || line.startsWith("iomapfs_warn")) && !line.endsWith(" 0.0")
                    && !line.endsWith(" 0")) {
                    b.append(' ').append(line.replace(" ", "="));
                }
            }
            Log.info(b.toString());
        } catch (RuntimeException e) {
            Log.info("cannot read the counters at exit: " + e.getMessage());
        }
    }

    /** Starts the log line of {@link #logCountersAtExit}. */
    public static final String COUNTERS_AT_EXIT = "counters at exit:";

    /** Writes the state file the CLI reads (umount, stats) without going through the mount. */
    private void publish(HungTaskWatchdog.Status st) {
        ProcessHandle me = ProcessHandle.current();
        try {
            new DaemonState(me.pid(), DaemonState.startTicksOf(me.pid()), s.mountPoint().toAbsolutePath().normalize(),
                s.image().toAbsolutePath().normalize(), st.hung(), st.blocked(), st.total(), hungTimeoutSeconds,
                st.summary()).write(stateFile);
        } catch (RuntimeException e) {
            Log.info("cannot publish the daemon state: " + e.getMessage());
        }
    }

    private void deleteState() {
        try {
            Files.deleteIfExists(stateFile);
        } catch (IOException e) {
            Log.info("cannot remove the daemon state file " + stateFile + ": " + e.getMessage());
        }
    }

    private void closeEngineQuietly() {
        try {
            engine.vfs().close();
        } catch (RuntimeException e) {
            Log.error("closing the engine after a failed mount", e);
        }
    }

    /**
     * SIGTERM/SIGINT (a JVM shutdown hook): once {@link #start} has mounted (a signal while it runs waits for it),
     * push the kernel's dirty pages to us while we still serve (syncfs), unmount, and wait for
     * {@link #runUntilUnmounted} to close the engine.
     */
    public void stop() {
        signalled.countDown();
        try {
            if (!started.await(START_WAIT_SECONDS, TimeUnit.SECONDS)) {
                Log.info("signalled while starting, and still starting after " + START_WAIT_SECONDS + " s; exiting");
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (!mounted || stopping || closed.getCount() == 0) {
            return;
        }
        stopping = true;
        if (watchdog.status().hung()) {
            stopHung();
            return;
        }
        Path mnt = s.mountPoint();
        Log.info("stopping: syncing and unmounting " + mnt);
        Unmount.syncfs(mnt);
        Unmount.unmount(mnt, true);
        try {
            if (!mount.awaitLoopEnd(5, TimeUnit.SECONDS)) {
                // a lazy unmount with files still open keeps the connection; abort it so the loop ends
                Log.info("connection still busy after a lazy unmount; aborting it");
                abort();
            }
            for (int waited = 0; !closed.await(1, TimeUnit.SECONDS); waited++) {
                if (watchdog.status().hung()) {
                    Log.info("hung while stopping (" + watchdog.status().summary() + "); exiting without closing"
                        + " the engine: the image keeps what its last commit wrote (everything fsynced)");
                    deleteState();
                    return;
                }
                if (waited >= 300) {
                    Log.info("engine did not close within 300 s; exiting anyway");
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * SIGTERM on a hung daemon: a plain unmount first (it succeeds when nothing on the mount is open), then, if
     * the request loop does not end, an abort of the FUSE connection (every request waiting in the kernel fails
     * and the loop's reads of /dev/fuse end) and a lazy unmount. Every step is bounded. Threads stuck inside the
     * engine are not waited for: the process exits without closing the engine, so the image keeps what its last
     * metadata commit wrote, which includes everything fsynced.
     */
    private void stopHung() {
        Path mnt = s.mountPoint();
        Log.info("stopping a hung daemon (" + watchdog.status().summary() + "): unmounting " + mnt);
        try {
            // not mounted any more: umount --force detached it already
            String err = Mounts.at(mnt).isEmpty() ? "already detached" : bounded(() -> Unmount.unmount(mnt, false));
            if (err != null || !mount.awaitLoopEnd(5, TimeUnit.SECONDS)) {
                Log.info("plain unmount: " + (err != null ? err : "the request loop did not end")
                    + "; aborting the FUSE connection");
                abort();
                String lazy = bounded(() -> Unmount.unmount(mnt, true));
                if (lazy != null && Mounts.at(mnt).isPresent()) {
                    Log.info("lazy unmount of " + mnt + ": " + lazy);
                }
            }
            if (!mount.awaitLoopEnd(5, TimeUnit.SECONDS)) {
                Log.info("request threads are still blocked in the engine; exiting without closing it: the image"
                    + " keeps what its last commit wrote (everything fsynced)");
            } else if (!closed.await(30, TimeUnit.SECONDS)) {
                Log.info("engine did not close within 30 s; exiting without closing it: the image keeps what its"
                    + " last commit wrote (everything fsynced)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        deleteState();
    }

    private void abort() {
        String err = deviceMinor >= 0 ? Unmount.abortConnection(deviceMinor) : "its device number is unknown";
        Log.info(err == null ? "aborted FUSE connection " + deviceMinor : "cannot abort the FUSE connection: " + err);
    }

    /** Runs an unmount step on its own thread and gives up on it after 5 s (a hung mount can block it). */
    private static String bounded(Supplier<String> step) throws InterruptedException {
        String[] out = new String[1];
        Thread t = new Thread(() -> out[0] = step.get(), "iomapfs-unmount");
        t.setDaemon(true);
        t.start();
        t.join(5_000);
        return t.isAlive() ? "did not return within 5 s" : out[0]; // join: the thread's write is visible
    }
}
