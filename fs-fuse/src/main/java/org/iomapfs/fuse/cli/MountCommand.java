package org.iomapfs.fuse.cli;

import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.LoopKind;
import org.iomapfs.fuse.MountOptions;
import org.iomapfs.fuse.ImageLock;
import org.iomapfs.fuse.Log;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "mount", mixinStandardHelpOptions = true,
    description = {"Mount IMAGE on MNT.",
        "Without --foreground the daemon runs as its own process and the command returns once the mount",
        "is live (non-zero with the daemon's one-line error otherwise)."})
final class MountCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE") Path image;
    @Parameters(index = "1", paramLabel = "MNT") Path mnt;
    @Mixin EngineOptions engine;
    @Mixin FuseOptions fuse;
    @Mixin LaunchOptions launch;

    @Override
    public Integer call() throws Exception {
        Path img = Cli.abs(image);
        Path mp = Cli.abs(mnt);
        LoopKind kind = fuse.loopKind();
        engine.validate();
        fuse.validateFsName();
        fuse.atimePolicy();
        Daemon.checkImage(img);
        Daemon.checkMountPoint(mp);
        Daemon.checkFuseLibrary();
        if (!ImageLock.isFree(img)) {
            throw new Cli.Failure(Daemon.inUseMessage(img));
        }
        return launch.foreground ? serve(img, mp, kind) : spawn(img, mp);
    }

    private int serve(Path img, Path mp, LoopKind kind) throws InterruptedException {
        MountOptions o = fuse.options(img.toString());
        if (engine.lockdep) {
            // before any engine class loads: lockdep's checks are compiled in only when the JVM has it
            System.setProperty(LockOrder.PROPERTY, "true");
            LockOrder.LOCKDEP.setOn(true);
        }
        LockOrder.LOCKDEP.addReporter(r -> Log.info("lockdep:\n" + r));
        Daemon d = new Daemon(new Daemon.Settings(img, mp, engine.mode, engine.bugs, engine.injects,
            engine.cacheMb << 20, o, engine.controls())).hungTimeout(engine.hungTimeout);
        d.start();
        System.out.println("iomapfs: mounted " + img + " at " + mp + " (pid " + ProcessHandle.current().pid()
            + ", " + fuse.threads + " " + kind.name().toLowerCase(Locale.ROOT) + " threads)");
        System.out.flush();
        Log.info("serving " + mp);
        return d.runUntilUnmounted();
    }

    /** Starts this same program as a detached daemon JVM with the options parsed here. */
    private int spawn(Path img, Path mp) throws IOException, InterruptedException {
        List<String> options = new ArrayList<>(engine.toArgs());
        options.addAll(fuse.toArgs());
        return DaemonLauncher.launch("mount", List.of(img.toString(), mp.toString()), options, mp, launch.log,
            fuse.fsType(), img.toString());
    }
}
