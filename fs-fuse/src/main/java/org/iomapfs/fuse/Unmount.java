package org.iomapfs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Unmounting and its helpers: umount2(2) as root, fusermount -u otherwise; syncfs; connection abort. */
public final class Unmount {
    private static final int EBUSY = 16;
    private static final int O_DIRECTORY = 0200000;

    private Unmount() { }

    /** Unmounts; returns null on success, else the reason. With {@code lazyFallback}, a busy mount is detached. */
    public static String unmount(Path mnt, boolean lazyFallback) {
        String p = mnt.toAbsolutePath().normalize().toString();
        if (Native.libc().getuid() == 0) {
            if (Native.libc().umount2(p, 0) == 0) {
                return null;
            }
            int e = Native.errno();
            if (e == EBUSY && lazyFallback && Native.libc().umount2(p, Native.MNT_DETACH) == 0) {
                return null;
            }
            return e == EBUSY ? "it is busy (files or directories on it are open)" : Native.strerror(e);
        }
        String tool = fusermount();
        if (tool == null) {
            return "neither fusermount nor fusermount3 is installed";
        }
        String r = run(List.of(tool, "-u", p));
        if (r != null && lazyFallback) {
            r = run(List.of(tool, "-u", "-z", p));
        }
        return r;
    }

    static String fusermount() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            for (String name : List.of("fusermount", "fusermount3")) {
                if (Files.isExecutable(Path.of(dir, name))) {
                    return Path.of(dir, name).toString();
                }
            }
        }
        return null;
    }

    private static String run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return p.waitFor() == 0 ? null : (out.isEmpty() ? String.join(" ", cmd) + " failed" : out);
        } catch (IOException e) {
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** syncfs(2) on the mount, bounded: the kernel writes dirty mmap pages back while the daemon still serves. */
    public static void syncfs(Path mnt) {
        Thread t = new Thread(() -> {
            Native.LibC c = Native.libc();
            int fd = c.open(mnt.toString(), Native.O_RDONLY | O_DIRECTORY | Native.O_CLOEXEC);
            if (fd >= 0) {
                c.syncfs(fd);
                c.close(fd);
            }
        }, "iomapfs-syncfs");
        t.setDaemon(true);
        t.start();
        try {
            t.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Where the fusectl file system lists FUSE connections (Documentation/filesystems/fuse.rst). */
    public static final Path FUSECTL = Path.of("/sys/fs/fuse/connections");

    /**
     * Mounts fusectl at {@link #FUSECTL} unless it is already there (a fresh machine does not mount it; the
     * directory exists once the fuse module is loaded). Returns null on success, else the reason.
     */
    public static String ensureFusectl() {
        if (Mounts.at(FUSECTL).filter(m -> m.fsType().equals("fusectl")).isPresent()) {
            return null;
        }
        if (!Files.isDirectory(FUSECTL)) {
            return FUSECTL + " does not exist (is the fuse module loaded?)";
        }
        if (Native.libc().mount("fusectl", FUSECTL.toString(), "fusectl", 0, null) != 0) {
            return "cannot mount fusectl on " + FUSECTL + ": " + Native.strerror(Native.errno());
        }
        return null;
    }

    /**
     * Aborts the FUSE connection with this device minor (fusectl's {@code N/abort}): every pending and future
     * request fails (ECONNABORTED or ENOTCONN) and the daemon's reads of /dev/fuse end. Returns null on
     * success, else the reason.
     */
    public static String abortConnection(int deviceMinor) {
        String err = ensureFusectl();
        if (err != null) {
            return err;
        }
        Path abort = FUSECTL.resolve(Integer.toString(deviceMinor)).resolve("abort");
        if (!Files.exists(abort)) {
            return "no FUSE connection " + deviceMinor + " in " + FUSECTL + " (already gone)";
        }
        try {
            Files.writeString(abort, "1");
            return null;
        } catch (IOException e) {
            return "cannot abort the FUSE connection through " + abort + ": " + e.getMessage();
        }
    }
}
