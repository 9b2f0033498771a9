package org.iomapfs.fuse.cli;

import org.iomapfs.fuse.DaemonState;
import org.iomapfs.fuse.ImageLock;
import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.Unmount;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "umount", mixinStandardHelpOptions = true,
    description = {"Unmount MNT and wait until its daemon has flushed, committed and closed the image.",
        "A hung daemon (its watchdog found a request or engine thread blocked) is not",
        "unmounted: the command says so. --force aborts its FUSE connection, detaches MNT",
        "and stops it; what was fsynced stays on the image (check it with iomapfs fsck)."})
final class UmountCommand implements Callable<Integer> {
    /** How long --force gives the daemon to exit after SIGTERM before SIGKILL. */
    static final long FORCE_GRACE_MS = Long.getLong("iomapfs.forceGraceMs", 20_000);
    /** How long umount waits for the daemon to close the image. */
    static final long UMOUNT_WAIT_MS = Long.getLong("iomapfs.umountWaitMs", 300_000);

    @Parameters(index = "0", paramLabel = "MNT") Path mnt;
    @Option(names = "--lazy", description = "detach even if files are open (the daemon exits when they are closed)")
    boolean lazy;
    @Option(names = "--force", description = "abort the FUSE connection (mounting fusectl on /sys/fs/fuse/connections"
        + " if needed), detach MNT, then stop the daemon: SIGTERM, SIGKILL after 20 s")
    boolean force;

    @Override
    public Integer call() throws InterruptedException {
        Path mp = Cli.abs(mnt);
        Mounts.Mount m = Cli.requireIomapfs(mp);
        Optional<DaemonState> state = DaemonState.find(mp);
        Path image = state.map(DaemonState::image).orElse(Path.of(m.source()));
        if (force) {
            return forceUnmount(mp, m, state, image);
        }
        state.filter(DaemonState::hung).ifPresent(st -> {
            throw new Cli.Failure("cannot unmount " + mp + ": " + hungReason(mp, st));
        });
        String err = Unmount.unmount(mp, lazy);
        if (err != null) {
            Optional<DaemonState> now = DaemonState.find(mp).filter(DaemonState::hung);
            throw new Cli.Failure("cannot unmount " + mp + ": " + now.map(st -> hungReason(mp, st)).orElse(err));
        }
        return waitForImage(mp, image, state);
    }

    static String hungReason(Path mp, DaemonState st) {
        return "its daemon (pid " + st.pid() + ") is hung: " + st.summary()
            + " (its log has every thread's stack; iomapfs umount --force " + mp + " aborts the connection and stops it)";
    }

    /** Waits until the daemon has closed the image (it drops the image lock then); fails early if it hangs. */
    private static int waitForImage(Path mp, Path image, Optional<DaemonState> state) throws InterruptedException {
        if (!Files.exists(image)) {
            return 0;
        }
        long deadline = System.currentTimeMillis() + UMOUNT_WAIT_MS;
        while (!ImageLock.isFree(image)) {
            Optional<DaemonState> hung = state.isPresent() ? DaemonState.find(mp).filter(DaemonState::hung) : Optional.empty();
            if (hung.isPresent()) {
                throw new Cli.Failure("unmounted " + mp + ", but " + hungReason(mp, hung.get()));
            }
            if (System.currentTimeMillis() > deadline) {
                throw new Cli.Failure("unmounted " + mp + ", but its daemon still holds " + image + " after "
                    + UMOUNT_WAIT_MS / 1000 + " s");
            }
            Thread.sleep(20); // polling the image lock the daemon drops once the engine is closed
        }
        return 0;
    }

    /** --force: abort the connection, detach the mount, stop the daemon (SIGTERM, then SIGKILL). */
    private static int forceUnmount(Path mp, Mounts.Mount m, Optional<DaemonState> state, Path image)
            throws InterruptedException {
        List<String> done = new ArrayList<>();
        String abort = Unmount.abortConnection(m.minor());
        if (abort != null) {
            System.err.println("iomapfs umount: " + abort);
        } else {
            done.add("aborted FUSE connection " + m.minor());
        }
        if (Mounts.at(mp).isPresent()) {
            String err = Unmount.unmount(mp, true);
            if (err != null) {
                throw new Cli.Failure("cannot detach " + mp + ": " + err);
            }
            done.add("detached " + mp);
        }
        Optional<ProcessHandle> daemon = state.flatMap(DaemonState::process);
        if (daemon.isPresent()) {
            ProcessHandle p = daemon.get();
            p.destroy();
            boolean termed = waitExit(p, FORCE_GRACE_MS);
            if (!termed) {
                p.destroyForcibly();
                if (!waitExit(p, 10_000)) {
                    throw new Cli.Failure("daemon pid " + p.pid() + " of " + mp + " survived SIGKILL");
                }
            }
            done.add("stopped daemon pid " + p.pid() + (termed ? " (SIGTERM)" : " (SIGKILL after " + FORCE_GRACE_MS / 1000 + " s)"));
        } else {
            done.add("found no live daemon for " + mp);
        }
        System.out.println("iomapfs umount: " + String.join(", ", done));
        if (Files.exists(image) && !ImageLock.isFree(image)) {
            throw new Cli.Failure("the image " + image + " is still locked by another process");
        }
        return 0;
    }

    private static boolean waitExit(ProcessHandle p, long ms) throws InterruptedException {
        try {
            p.onExit().get(ms, java.util.concurrent.TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return !p.isAlive();
        }
    }
}
