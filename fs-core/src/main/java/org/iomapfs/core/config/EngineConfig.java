package org.iomapfs.core.config;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * How an engine instance runs. Defaults suit a mount; tests shrink the cache and intervals.
 *
 * @param cacheBytes         page-cache budget; reclaim keeps the cache near it
 * @param writebackIntervalMs how often the flusher writes back dirty folios in the background (0: never)
 * @param dirtyThresholdFolios dirty folios that wake the flusher early
 * @param readaheadFolios    folios read ahead on a cache miss
 * @param commitIntervalMs   how often the flusher commits metadata when nothing else did
 * @param registry           where metrics go (a Prometheus registry by default: the metrics control is its text)
 * @param traceEvents        how many recent engine events the trace ring keeps
 * @param atime              when accesses move atime (the mount's relatime, strictatime, noatime, nodiratime)
 * @param readOnly           open the image and its metadata read-only and refuse every change with EROFS
 */
public record EngineConfig(long cacheBytes, long writebackIntervalMs, long dirtyThresholdFolios, int readaheadFolios,
                           long commitIntervalMs, MeterRegistry registry, int traceEvents, AtimePolicy atime,
                           boolean readOnly) {
    public EngineConfig(long cacheBytes, long writebackIntervalMs, long dirtyThresholdFolios, int readaheadFolios,
                        long commitIntervalMs, MeterRegistry registry, int traceEvents) {
        this(cacheBytes, writebackIntervalMs, dirtyThresholdFolios, readaheadFolios, commitIntervalMs, registry,
            traceEvents, AtimePolicy.DEFAULT, false);
    }

    public static EngineConfig defaults() {
        return new EngineConfig(256L << 20, 1000, 4096, 32, 5000, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), 8192);
    }

    public EngineConfig withCacheBytes(long b) {
        return new EngineConfig(b, writebackIntervalMs, dirtyThresholdFolios, readaheadFolios, commitIntervalMs, registry, traceEvents, atime, readOnly);
    }

    public EngineConfig withWritebackIntervalMs(long ms) {
        return new EngineConfig(cacheBytes, ms, dirtyThresholdFolios, readaheadFolios, commitIntervalMs, registry, traceEvents, atime, readOnly);
    }

    public EngineConfig withDirtyThresholdFolios(long n) {
        return new EngineConfig(cacheBytes, writebackIntervalMs, n, readaheadFolios, commitIntervalMs, registry, traceEvents, atime, readOnly);
    }

    public EngineConfig withTraceEvents(int n) {
        return new EngineConfig(cacheBytes, writebackIntervalMs, dirtyThresholdFolios, readaheadFolios, commitIntervalMs, registry, n, atime, readOnly);
    }

    public EngineConfig withAtime(AtimePolicy p) {
        return new EngineConfig(cacheBytes, writebackIntervalMs, dirtyThresholdFolios, readaheadFolios, commitIntervalMs, registry, traceEvents, p, readOnly);
    }

    public EngineConfig withReadOnly(boolean ro) {
        return new EngineConfig(cacheBytes, writebackIntervalMs, dirtyThresholdFolios, readaheadFolios, commitIntervalMs, registry, traceEvents, atime, ro);
    }
}
