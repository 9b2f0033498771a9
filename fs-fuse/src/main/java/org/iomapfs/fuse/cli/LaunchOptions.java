package org.iomapfs.fuse.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** How a mount runs: in this process, or as a daemon JVM with its log. Not handed on to the daemon. */
final class LaunchOptions {
    @Option(names = "--foreground", description = "serve in this process until unmounted")
    boolean foreground;
    @Option(names = "--log", description = "daemon log file (background mounts; default: in the temporary directory)")
    Path log;
}
