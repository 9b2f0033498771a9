package org.iomapfs.fuse.cli;

import org.iomapfs.core.config.AtimePolicy;
import org.iomapfs.fuse.LoopKind;
import org.iomapfs.fuse.MountOptions;
import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.Native;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The FUSE side of a mount (request loop, request size, mount table entry), shared by every command that
 * mounts. A background mount hands each option to its daemon as parsed ({@link #toArgs}).
 */
final class FuseOptions {
    @Spec
    CommandSpec spec;

    @Option(names = "--threads", defaultValue = "16", description = "request threads (default: ${DEFAULT-VALUE})")
    int threads;
    @Option(names = "--loop", defaultValue = "pool",
        description = "request loop: pool (fixed Java threads) or stock (libfuse's fuse_loop_mt) (default: ${DEFAULT-VALUE})")
    String loop;
    @Option(names = "--max-write", paramLabel = "BYTES",
        description = "largest READ or WRITE request, 131072 to 1048576; above 131072 the kernel is asked for it with"
            + " FUSE_MAX_PAGES, as libfuse 3 does, which needs the pool loop (default: 1048576, 131072 with --loop stock)")
    Integer maxWrite;
    @Option(names = "--debug", description = "libfuse debug output (-d) in the log")
    boolean debug;
    @Option(names = "--fsname", paramLabel = "NAME",
        description = "mount source shown in the mount table (default: the image path); fstests finds TEST_DEV by it")
    String fsName;
    @Option(names = "--no-subtype",
        description = "file system type plain 'fuse' instead of 'fuse.iomapfs' (what fstests' FSTYP=fuse looks for)")
    boolean noSubtype;
    @Option(names = {"-r", "--read-only"},
        description = "mount read-only: the kernel and the daemon refuse changes with EROFS, the image is opened"
            + " read-only and keeps its bytes")
    boolean readOnly;
    @Option(names = "--atime", paramLabel = "MODE", defaultValue = "relatime",
        description = "when reads move atime: relatime, strictatime or noatime, as the mount options of that name"
            + " (default: ${DEFAULT-VALUE})")
    String atime;
    @Option(names = "--nodiratime", description = "never move a directory's atime (the mount option nodiratime)")
    boolean nodiratime;

    LoopKind loopKind() {
        return switch (loop) {
            case "pool" -> LoopKind.POOL;
            case "stock" -> LoopKind.STOCK;
            default -> throw new Cli.Failure("bad --loop '" + loop + "' (pool or stock)", Cli.EXIT_BAD_INPUT);
        };
    }

    AtimePolicy atimePolicy() {
        try {
            return new AtimePolicy(AtimePolicy.mode(atime), nodiratime);
        } catch (IllegalArgumentException e) {
            throw new Cli.Failure("--atime: " + e.getMessage(), Cli.EXIT_BAD_INPUT);
        }
    }

    void validateFsName() {
        if (fsName != null && (fsName.isBlank() || fsName.chars().anyMatch(Character::isWhitespace))) {
            throw new Cli.Failure("bad --fsname '" + fsName + "' (non-empty, no white space)", Cli.EXIT_BAD_INPUT);
        }
    }

    /** The file system type the mount table will show. */
    String fsType() {
        return noSubtype ? "fuse" : Mounts.FSTYPE;
    }

    /** The mount's options; other users are let in when run as root or allowed by /etc/fuse.conf. */
    MountOptions options(String defaultFsName) {
        boolean root = Native.libc().getuid() == 0;
        try {
            LoopKind kind = loopKind();
            int mw = maxWrite != null ? maxWrite
                : kind == LoopKind.STOCK ? MountOptions.MIN_MAX_WRITE : MountOptions.MAX_MAX_WRITE;
            return new MountOptions(fsName != null ? fsName : defaultFsName, threads, kind, mw,
                root || userAllowOther(), debug, !noSubtype, readOnly, atimePolicy());
        } catch (IllegalArgumentException e) {
            throw new Cli.Failure(e.getMessage(), Cli.EXIT_BAD_INPUT);
        }
    }

    private static boolean userAllowOther() {
        try {
            return Files.readAllLines(Path.of("/etc/fuse.conf")).stream()
                .anyMatch(l -> l.strip().equals("user_allow_other"));
        } catch (IOException e) {
            return false;
        }
    }

    List<String> toArgs() {
        return DaemonLauncher.argsOf(spec);
    }
}
