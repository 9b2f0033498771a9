package org.iomapfs.fuse.cli;

import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.FuseMount;
import org.iomapfs.fuse.Log;
import org.iomapfs.fuse.Native;
import org.iomapfs.fuse.Unmount;
import org.iomapfs.fuse.floor.FloorVfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code iomapfs floor MNT}: mounts {@link FloorVfs} through the same {@link FuseMount} and request loop as an
 * image, so that a benchmark can tell the binding's cost from the engine's. Hidden: a measuring tool.
 */
@Command(name = "floor", hidden = true, mixinStandardHelpOptions = true,
    description = {"Mount an in-memory file system with no engine on MNT (the FUSE binding's throughput floor).",
        "Everything on it is lost at unmount. Without --foreground the daemon runs as its own process."})
final class FloorCommand implements Callable<Integer> {
    /** The mount source of a floor mount when --fsname is not given. */
    static final String SOURCE = "iomapfs-floor";

    @Parameters(index = "0", paramLabel = "MNT") Path mnt;
    @Mixin FuseOptions fuse;
    @Mixin LaunchOptions launch;

    @Override
    public Integer call() throws IOException, InterruptedException {
        Path mp = Cli.abs(mnt);
        fuse.loopKind();
        fuse.validateFsName();
        Daemon.checkMountPoint(mp);
        Daemon.checkFuseLibrary();
        if (!launch.foreground) {
            return DaemonLauncher.launch("floor", List.of(mp.toString()), fuse.toArgs(), mp, launch.log,
                fuse.fsType(), "the floor file system");
        }
        FloorVfs fs = new FloorVfs();
        FuseMount mount = new FuseMount(fs, fs, Native.libc().getuid(), Native.libc().getgid());
        mount.mount(mp, fuse.options(SOURCE));
        // SIGTERM/SIGINT: detach, so that the request loop ends and main returns
        Runtime.getRuntime().addShutdownHook(new Thread(() -> Unmount.unmount(mp, true), "iomapfs-floor-stop"));
        System.out.println("iomapfs: mounted the floor file system at " + mp + " (pid " + ProcessHandle.current().pid()
            + ", " + fuse.threads + " " + fuse.loop + " threads)");
        System.out.flush();
        Log.info("serving " + mp);
        mount.awaitLoopEnd(Long.MAX_VALUE, TimeUnit.DAYS);
        mount.teardown();
        return 0;
    }
}
