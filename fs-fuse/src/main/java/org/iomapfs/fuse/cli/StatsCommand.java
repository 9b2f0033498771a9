package org.iomapfs.fuse.cli;

import org.iomapfs.fuse.DaemonState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "stats", mixinStandardHelpOptions = true,
    description = {"Print the metrics of a mounted file system (MNT/.iomapfs/metrics): the engine's",
        "and the daemon's (iomapfs_hung_tasks_total: threads its hung-task watchdog found",
        "blocked; iomapfs_blocked_tasks: how many are blocked now). The first line says",
        "whether the daemon is hung; a mount that does not answer within 10 s is reported."})
final class StatsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MNT") Path mnt;
    @Option(names = "--raw", description = "print the Prometheus text as it is")
    boolean raw;

    @Override
    public Integer call() throws IOException {
        Path mp = Cli.abs(mnt);
        Cli.requireIomapfs(mp);
        Optional<DaemonState> state = DaemonState.find(mp);
        if (!raw) {
            System.out.println(state.map(st -> st.hung() ? "daemon: HUNG (pid " + st.pid() + "): " + st.summary()
                : "daemon: running (pid " + st.pid() + ", hung-task timeout "
                + (st.hungTimeoutSeconds() == 0 ? "off" : st.hungTimeoutSeconds() + " s") + ")")
                .orElse("daemon: no state published for " + mp));
        }
        String text = readBounded(mp.resolve(".iomapfs").resolve("metrics"), 10_000);
        if (raw) {
            System.out.print(text);
            return 0;
        }
        List<String[]> rows = new ArrayList<>();
        int width = 0;
        for (String line : text.lines().toList()) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int sp = line.lastIndexOf(' ');
            String[] r = sp < 0 ? new String[] {line, ""} : new String[] {line.substring(0, sp), line.substring(sp + 1)};
            rows.add(r);
            width = Math.max(width, r[0].length());
        }
        for (String[] r : rows) {
            System.out.printf("%-" + width + "s  %s%n", r[0], plain(r[1]));
        }
        return 0;
    }

    /** Reads a control file on a thread of its own, so a hung mount cannot hang the command. */
    private static String readBounded(Path f, long ms) throws IOException {
        java.util.concurrent.CompletableFuture<String> r = new java.util.concurrent.CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                r.complete(Files.readString(f, StandardCharsets.UTF_8));
            } catch (IOException | RuntimeException e) {
                r.completeExceptionally(e);
            }
        }, "iomapfs-stats-read");
        t.setDaemon(true);
        t.start();
        try {
            return r.get(ms, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new Cli.Failure("the mount does not answer: reading " + f + " did not return within " + ms / 1000 + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new Cli.Failure(e.getCause().toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Cli.Failure("interrupted");
        }
    }

    /** Prometheus writes every value as a double: whole numbers (bytes, folios, counts) print as integers. */
    static String plain(String v) {
        try {
            double d = Double.parseDouble(v);
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : v;
        } catch (NumberFormatException e) {
            return v;
        }
    }
}
