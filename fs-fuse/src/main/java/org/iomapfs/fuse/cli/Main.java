package org.iomapfs.fuse.cli;

import org.iomapfs.fuse.Daemon;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The {@code iomapfs} command line: one class per subcommand, registered here (a new one is one more line in
 * {@code subcommands}). Every command talks to a live daemon only through its mount.
 */
@Command(name = "iomapfs", mixinStandardHelpOptions = true, version = "iomapfs 0.1.0",
    description = "A FUSE file system with a model of the kernel's iomap buffered I/O engine.",
    subcommands = {
        MkfsCommand.class,
        MountCommand.class,
        UmountCommand.class,
        CtlCommand.class,
        StatsCommand.class,
        FsckCommand.class,
        FloorCommand.class,
        ExploreCommand.class,
    })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int rc = run(args);
        System.exit(rc);
    }

    /** Runs the CLI and returns its exit status (tests call this in-process). */
    public static int run(String... args) {
        return run(new PrintWriter(System.err, true), args);
    }

    /** Runs the CLI with error messages going to {@code err}. */
    public static int run(PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            String msg = ex instanceof Cli.Failure || ex instanceof Daemon.MountFailure
                ? ex.getMessage() : ex.toString();
            cmd.getErr().println("iomapfs " + cmd.getCommandName() + ": " + msg);
            return ex instanceof Cli.Failure f ? f.exitCode
                : ex instanceof Daemon.MountFailure m && m.badInput() ? Cli.EXIT_BAD_INPUT : 1;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
