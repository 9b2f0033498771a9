package org.iomapfs.core.control;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Injection profiles: for each seed bug a mount can reach, the set of {@code inject/} knobs that lets its
 * fstests show it (docs/bugs.md, "Profiles", has what each makes fail in buggy mode). A profile sets injections
 * only, never a bug switch, so one profile serves the buggy and the fixed mount of a comparison alike.
 * {@code none} sets every knob a profile touches back to its default.
 */
public final class Profiles {
    private Profiles() { }

    /** Knob defaults, for {@code none} (the values {@code Injector} starts with; cache_bytes is the mount's). */
    private static final Map<String, String> DEFAULTS = Map.of(
        "copyin_fail", "0.0", "copyin_bytes", "random", "write_delay_ms", "0", "reclaim_every_ms", "0");

    private static final Map<String, Map<String, String>> PROFILES = new LinkedHashMap<>();

    static {
        // generic/346's pattern (holetest -w): a pwrite's copy-in fails after it reserved delalloc, and the old
        // ->iomap_end truncates the page cache under a folio a mapped store dirtied; the delay widens the window
        // between ->iomap_begin and the copy-in in which the store lands.
        PROFILES.put("punch-delalloc", ordered(
            "copyin_fail", "0.5", "copyin_bytes", "0", "write_delay_ms", "2"));
        // a FUSE writepage's payload copied in short inside page_mkwrite: with the write ops the fault punches
        // its own new delalloc, writeback then finds a hole; reclaim pressure drops the clean folio, so the loss
        // reaches what a reader (and the kernel's cache, once invalidated) sees.
        PROFILES.put("mkwrite-ops", ordered(
            "copyin_fail", "0.2", "copyin_bytes", "0", "reclaim_every_ms", "5"));
        // xfs/559's shape: a long write caches an unwritten map, writeback converts and reclaim evicts the last
        // folio meanwhile, the write zeroes around its tail from the stale map.
        PROFILES.put("stale-iomap", ordered(
            "write_delay_ms", "40", "reclaim_every_ms", "2"));
        PROFILES.put("none", DEFAULTS);
    }

    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    public static List<String> names() { return List.copyOf(PROFILES.keySet()); }

    /** The knob writes of a profile (knob name without {@code inject/} to value), or null for an unknown name. */
    public static Map<String, String> knobs(String name) { return PROFILES.get(name); }
}
