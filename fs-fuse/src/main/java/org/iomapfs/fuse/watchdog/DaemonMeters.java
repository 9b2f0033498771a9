package org.iomapfs.fuse.watchdog;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.iomapfs.core.api.Controls;

import java.util.List;

/**
 * The daemon's own meters (the hung-task watchdog's), shown after the engine's in the {@code metrics} control,
 * so {@code /.iomapfs/metrics} and {@code iomapfs stats} carry both whatever engine is mounted. Every other
 * control passes through to the engine's.
 */
public final class DaemonMeters {
    public static final String METRICS_KEY = "metrics";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    public PrometheusMeterRegistry registry() { return registry; }

    /** {@code engine}'s controls with this registry's text appended to {@code metrics}. */
    public Controls appendTo(Controls engine) {
        return new Controls() {
            @Override
            public List<String> keys() { return engine.keys(); }

            @Override
            public boolean writable(String key) { return engine.writable(key); }

            @Override
            public String read(String key) {
                String v = engine.read(key);
                if (!key.equals(METRICS_KEY)) {
                    return v;
                }
                return v.isEmpty() || v.endsWith("\n") ? v + registry.scrape() : v + "\n" + registry.scrape();
            }

            @Override
            public void write(String key, String value) { engine.write(key, value); }
        };
    }
}
