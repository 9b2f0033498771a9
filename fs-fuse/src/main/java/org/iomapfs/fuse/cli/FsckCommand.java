package org.iomapfs.fuse.cli;

import org.iomapfs.core.api.FsException;
import org.iomapfs.fuse.Daemon;
import org.iomapfs.fuse.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "fsck", mixinStandardHelpOptions = true,
    description = {"Check an unmounted image.",
        "Exit status: 0 clean, 1 problems found, 2 not a usable image (missing, not an iomapfs image, its",
        "IMAGE.meta missing or unreadable)."})
final class FsckCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE") Path image;

    @Override
    public Integer call() {
        Path img = Cli.abs(image);
        Daemon.checkImage(img);
        Cli.requireIdle(img);
        List<String> problems;
        try {
            problems = Engine.load().fsck(img);
        } catch (FsException e) {
            throw Cli.engineFailure(e);
        }
        if (problems.isEmpty()) {
            System.out.println(img + ": clean");
            return 0;
        }
        problems.forEach(p -> System.out.println(img + ": " + p));
        return 1;
    }
}
