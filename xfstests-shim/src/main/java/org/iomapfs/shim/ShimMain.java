package org.iomapfs.shim;

import org.iomapfs.shim.compare.CompareCommand;
import org.iomapfs.shim.compare.DemoCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;

/** The shim's commands, which the root {@code ./iomapfs} launcher routes here: compare and demo. */
@Command(name = "iomapfs", mixinStandardHelpOptions = true, version = "iomapfs 0.1.0",
    description = "buggy-vs-fixed comparisons on live iomapfs mounts",
    subcommands = {CompareCommand.class, DemoCommand.class})
public final class ShimMain implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new ShimMain());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("iomapfs " + cmd.getCommandName() + ": "
                + (ex instanceof IOException ? ex.getMessage() : ex.toString()));
            return 3;
        });
        return cl.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
