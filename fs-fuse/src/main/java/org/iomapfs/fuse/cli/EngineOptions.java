package org.iomapfs.fuse.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine's options of a mount (settings, cache, lock validator, watchdog). A background mount hands each
 * of them to its daemon as parsed ({@link #toArgs}): a new option here reaches the daemon with no other change.
 */
final class EngineOptions {
    @Spec
    CommandSpec spec;

    @Option(names = "--mode", description = "engine mode: buggy or fixed (written to the control key 'mode')")
    String mode;
    @Option(names = "--bug", paramLabel = "NAME=buggy|fixed", description = "set one bug switch (bugs/NAME); repeatable")
    Map<String, String> bugs = new LinkedHashMap<>();
    @Option(names = "--inject", paramLabel = "KNOB=VALUE", description = "set one fault-injection knob (inject/KNOB); repeatable")
    Map<String, String> injects = new LinkedHashMap<>();
    @Option(names = "--profile", paramLabel = "NAME",
        description = "a named set of injections that lets one bug's fstests show it: stale-iomap, mkwrite-ops,"
            + " punch-delalloc or none (control key 'profile'; docs/bugs.md); --inject overrides its knobs")
    String profile;
    @Option(names = "--invalidate", paramLabel = "MODE",
        description = "which ranges the engine changed behind the kernel's page cache are invalidated there: off,"
            + " losses (where a bug fired or writeback failed; nothing in fixed mode) or all (also every writeback"
            + " completion); control key 'invalidate', default losses")
    String invalidate;
    @Option(names = "--max-folio-order", paramLabel = "ORDER",
        description = "largest folio the buffered write path creates, as a power of two of 4 KiB pages: 0 gives"
            + " single-page folios (the kernels of the bug fixes), 4 is 64 KiB, 6 is 256 KiB (the default and the"
            + " most), and no more than 64 blocks; control key 'max_folio_order'")
    String maxFolioOrder;
    @Option(names = "--cache-mb", defaultValue = "256", description = "engine page-cache budget in MiB (default: ${DEFAULT-VALUE});"
        + " freed folio memory is kept for reuse up to twice that, at most a quarter of the daemon's heap")
    long cacheMb;
    @Option(names = "--lockdep", description = "check the engine's lock order at run time; reports go to the log and to .iomapfs/lockdep")
    boolean lockdep;
    @Option(names = "--hung-timeout", paramLabel = "SECONDS", defaultValue = "30",
        description = "log every thread's stack and held locks once a request or engine thread has made no"
            + " progress for this long, and count it in iomapfs_hung_tasks_total; 0: off (default: ${DEFAULT-VALUE})")
    long hungTimeout;

    void validate() {
        if (cacheMb <= 0) {
            throw new Cli.Failure("--cache-mb must be positive", Cli.EXIT_BAD_INPUT);
        }
        if (hungTimeout < 0) {
            throw new Cli.Failure("--hung-timeout must be 0 (off) or a number of seconds", Cli.EXIT_BAD_INPUT);
        }
    }

    /** The control writes other than mode, bugs and injections, in the order they are applied. */
    Map<String, String> controls() {
        Map<String, String> c = new LinkedHashMap<>();
        if (profile != null) {
            c.put("profile", profile);
        }
        if (invalidate != null) {
            c.put("invalidate", invalidate);
        }
        if (maxFolioOrder != null) {
            c.put("max_folio_order", maxFolioOrder);
        }
        return c;
    }

    List<String> toArgs() {
        return DaemonLauncher.argsOf(spec);
    }
}
