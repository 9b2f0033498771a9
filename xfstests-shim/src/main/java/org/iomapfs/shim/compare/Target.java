package org.iomapfs.shim.compare;

import org.iomapfs.shim.io.Control;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A mounted fresh image that workloads run against, in one engine mode (buggy or fixed). */
final class Target implements AutoCloseable {
    final String mode;
    final Path mnt;
    final Control control;
    private final Cli cli;
    private boolean mounted;

    private Target(String mode, Path mnt, Control control, Cli cli, boolean owner) {
        this.mode = mode;
        this.mnt = mnt;
        this.control = control;
        this.cli = cli;
        this.mounted = owner;
    }

    /** mkfs DIR/IMG and mount it on DIR/MNT in {@code mode}; the daemon's log goes to DIR. */
    static Target start(Cli cli, Path dir, String name, String mode, String imageSize, List<String> mountOptions)
        throws IOException, InterruptedException {
        Path img = dir.resolve(name + ".img");
        Path mnt = dir.resolve(name + ".mnt");
        Files.createDirectories(mnt);
        cli.run(120, "mkfs", img.toString(), "--size", imageSize);
        List<String> args = new ArrayList<>(List.of("mount", img.toString(), mnt.toString(), "--mode", mode,
            "--log", dir.resolve(name + ".daemon.log").toString()));
        args.addAll(mountOptions);
        cli.run(120, args.toArray(String[]::new));
        return new Target(mode, mnt, Control.of(mnt), cli, true);
    }

    /**
     * The same mount in another mode, switched through the {@code mode} control (demo's single mount); closing
     * it leaves the mount to this target.
     */
    Target inMode(String otherMode) {
        return new Target(otherMode, mnt, control, cli, false);
    }

    /** Puts the mount into this target's mode (a no-op for a mount made in it). */
    void select() throws IOException {
        control.set("mode", mode);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (!mounted) {
            return;
        }
        mounted = false;
        try {
            cli.run(300, "umount", mnt.toString());
        } catch (IOException e) {
            System.err.println("compare: " + e.getMessage() + "; detaching lazily");
            cli.run(60, "umount", "--lazy", mnt.toString());
        }
    }
}
