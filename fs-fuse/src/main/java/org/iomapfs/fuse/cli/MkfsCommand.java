package org.iomapfs.fuse.cli;

import org.iomapfs.core.api.FsException;
import org.iomapfs.fuse.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "mkfs", mixinStandardHelpOptions = true, description = "Create (format) an image file.")
final class MkfsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "image file to create")
    Path image;
    @Option(names = "--size", defaultValue = "1G", description = "image size, e.g. 512M, 2G (default: ${DEFAULT-VALUE})")
    String size;
    @Option(names = "--block-size", defaultValue = "4096", description = "block size in bytes (default: ${DEFAULT-VALUE})")
    int blockSize;
    @Option(names = "--force", description = "overwrite an existing image")
    boolean force;

    @Override
    public Integer call() {
        Path img = Cli.abs(image);
        Cli.requireIdle(img);
        long bytes = Cli.parseSize(size);
        try {
            Engine.load().mkfs(img, bytes, blockSize, force);
        } catch (FsException e) {
            throw Cli.engineFailure(e);
        }
        System.out.println("formatted " + img + ": " + bytes + " bytes, block size " + blockSize);
        return 0;
    }
}
