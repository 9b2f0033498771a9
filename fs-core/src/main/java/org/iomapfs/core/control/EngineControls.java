package org.iomapfs.core.control;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.iomapfs.core.api.CacheInvalidation;
import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.inject.Injector;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.mount.FsContext;

import java.util.ArrayList;
import java.util.List;
import org.iomapfs.core.pagecache.PageCache;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The engine's control keys (its /sys/fs/xfs/DEV/errortag/): parses and applies {@code mode}, {@code bugs/NAME},
 * {@code inject/KNOB}, {@code drop_caches}, {@code sync}, {@code trace}, {@code cache_bytes},
 * {@code max_folio_order} (the largest folio the buffered write path creates from now on), {@code invalidate}
 * (which ranges the engine hands to the cache in front of it: {@link CacheInvalidation.Mode}), {@code profile}
 * (a named set of injections, {@link Profiles}), and renders the
 * read-only {@code metrics} and {@code lockdep}. {@code drop_caches} and {@code sync} run the mounted
 * engine's own {@link Vfs#dropCaches} and {@link Vfs#sync}.
 */
public final class EngineControls implements Controls {
    private static final List<String> KEYS;

    static {
        List<String> k = new ArrayList<>(List.of("mode"));
        for (Bug b : Bug.values()) {
            k.add("bugs/" + b.id);
        }
        for (Injector.Knob knob : Injector.Knob.values()) {
            k.add("inject/" + knob.id);
        }
        k.addAll(List.of("metrics", "trace", "drop_caches", "sync", "cache_bytes", "max_folio_order", "lockdep", "invalidate", "profile", "mount"));
        KEYS = List.copyOf(k);
    }

    private final FsContext ctx;
    private final Vfs vfs;
    /** The last profile applied (its knobs may have been changed since). */
    private volatile String profile = "none";

    public EngineControls(FsContext ctx, Vfs vfs) {
        this.ctx = ctx;
        this.vfs = vfs;
    }

    @Override
    public List<String> keys() { return KEYS; }

    private static boolean parseMode(String key, String v) {
        return switch (v) {
            case "buggy" -> true;
            case "fixed" -> false;
            default -> throw new FsException(Errno.EINVAL, key + " takes buggy or fixed, not '" + v + "'");
        };
    }

    private static Bug bug(String key) {
        Bug b = Bug.byId(key.substring("bugs/".length()));
        if (b == null) {
            throw new FsException(Errno.ENOENT, "unknown bug switch " + key + "; known: " + KEYS.stream()
                    .filter(x -> x.startsWith("bugs/")).map(x -> x.substring(5)).toList());
        }
        return b;
    }

    private static Injector.Knob knob(String key) {
        Injector.Knob k = Injector.Knob.byId(key.substring("inject/".length()));
        if (k == null) {
            throw new FsException(Errno.ENOENT, "unknown injection knob " + key + "; known: " + KEYS.stream()
                    .filter(x -> x.startsWith("inject/")).map(x -> x.substring(7)).toList());
        }
        return k;
    }

    @Override
    public boolean writable(String key) {
        return !key.equals("metrics") && !key.equals("lockdep") && !key.equals("mount");
    }

    @Override
    public String read(String key) {
        if (key.startsWith("bugs/")) {
            return (ctx.bugs.buggy(bug(key)) ? "buggy" : "fixed") + "\n";
        }
        if (key.startsWith("inject/")) {
            return ctx.inject.read(knob(key)) + "\n";
        }
        return switch (key) {
            case "mode" -> {
                boolean anyBuggy = false;
                boolean allBuggy = true;
                for (Bug b : Bug.values()) {
                    anyBuggy |= ctx.bugs.buggy(b);
                    allBuggy &= ctx.bugs.buggy(b);
                }
                yield (allBuggy ? "buggy" : anyBuggy ? "mixed" : "fixed") + "\n";
            }
            case "metrics" -> metricsText();
            case "trace" -> ctx.trace.dump();
            case "drop_caches", "sync" -> "0\n";
            case "cache_bytes" -> ctx.cache.budgetBytes() + "\n";
            case "max_folio_order" -> ctx.cache.maxFolioOrder() + "\n";
            case "lockdep" -> lockdepText();
            case "invalidate" -> ctx.invalidationMode().id + "\n";
            case "profile" -> profile + "\n";
            // the mount options in effect in the engine: ro after a remount read-only has reached it
            case "mount" -> (ctx.readOnly() ? "ro," : "rw,") + ctx.atimePolicy() + "\n";
            default -> throw new FsException(Errno.ENOENT, "unknown control " + key);
        };
    }

    @Override
    public void write(String key, String value) {
        String v = value.trim();
        if (key.startsWith("bugs/")) {
            ctx.bugs.set(bug(key), parseMode(key, v));
            return;
        }
        if (key.startsWith("inject/")) {
            ctx.inject.write(knob(key), v);
            return;
        }
        switch (key) {
            case "mode" -> ctx.bugs.setAll(parseMode(key, v));
            case "drop_caches" -> {
                requireOne(key, v);
                vfs.dropCaches();
            }
            case "sync" -> {
                requireOne(key, v);
                vfs.sync();
            }
            case "trace" -> {
                if (!v.equals("clear")) {
                    throw new FsException(Errno.EINVAL, "trace takes clear, not '" + v + "'");
                }
                ctx.trace.clear();
            }
            case "cache_bytes" -> ctx.inject.write(Injector.Knob.CACHE_BYTES, v);
            case "max_folio_order" -> ctx.cache.setMaxFolioOrder(parseOrder(v));
            case "invalidate" -> {
                CacheInvalidation.Mode m = CacheInvalidation.Mode.byId(v);
                if (m == null) {
                    throw new FsException(Errno.EINVAL, "invalidate takes off, losses or all, not '" + v + "'");
                }
                ctx.setInvalidationMode(m);
            }
            case "profile" -> applyProfile(v);
            case "metrics", "lockdep", "mount" -> throw new FsException(Errno.EACCES, key + " is read-only");
            default -> throw new FsException(Errno.ENOENT, "unknown control " + key);
        }
    }

    /** Sets a profile's knobs (validated first, so an unknown name changes nothing). */
    private synchronized void applyProfile(String name) {
        Map<String, String> knobs = Profiles.knobs(name);
        if (knobs == null) {
            throw new FsException(Errno.EINVAL, "profile takes one of " + Profiles.names() + ", not '" + name + "'");
        }
        knobs.forEach((k, val) -> ctx.inject.write(Injector.Knob.byId(k), val));
        profile = name;
    }

    /** lockdep's reports, or one line saying it is off or has found nothing. */
    private static String lockdepText() {
        if (!LockOrder.LOCKDEP.isOn()) {
            return "off (mount with --lockdep)\n";
        }
        List<String> r = LockOrder.LOCKDEP.reports();
        return r.isEmpty() ? "on, no report\n" : String.join("\n", r);
    }

    private static int parseOrder(String v) {
        if (v.matches("[0-9]{1,2}")) {
            int o = Integer.parseInt(v);
            if (o <= PageCache.MAX_FOLIO_ORDER) {
                return o;
            }
        }
        throw new FsException(Errno.EINVAL, "max_folio_order takes an integer in [0, " + PageCache.MAX_FOLIO_ORDER
                + "] (pages as a power of two), not '" + v + "'");
    }

    private static void requireOne(String key, String v) {
        if (!v.equals("1")) {
            throw new FsException(Errno.EINVAL, key + " takes 1, not '" + v + "'");
        }
    }

    /** Prometheus text exposition of every meter (the registry is a Prometheus one unless a test chose otherwise). */
    private String metricsText() {
        if (ctx.metrics.registry instanceof PrometheusMeterRegistry p) {
            return p.scrape();
        }
        StringBuilder sb = new StringBuilder();
        ctx.metrics.registry.getMeters().forEach(m -> m.measure().forEach(ms -> sb
                .append(m.getId().getName().replace('.', '_')).append('_').append(ms.getStatistic().name().toLowerCase())
                .append(m.getId().getTags().stream().map(t -> t.getKey() + "=\"" + t.getValue() + "\"")
                        .collect(Collectors.joining(",", "{", "}")))
                .append(' ').append(ms.getValue()).append('\n')));
        return sb.toString();
    }
}
