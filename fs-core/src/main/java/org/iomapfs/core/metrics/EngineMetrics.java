package org.iomapfs.core.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.concurrent.atomic.AtomicLong;

/** Every meter the engine keeps, registered once on the registry the engine was given. */
public final class EngineMetrics {
    public final MeterRegistry registry;
    public final Counter cacheHits;
    public final Counter cacheMisses;
    public final Counter cacheEvictions;
    public final AtomicLong cachedFolios = new AtomicLong();
    public final AtomicLong dirtyFolios = new AtomicLong();
    public final AtomicLong writebackFolios = new AtomicLong();
    public final Counter iomapBegins;
    public final Counter staleMaps;
    public final Counter remaps;
    public final Counter delallocReservedBytes;
    public final Counter delallocPunchedBytes;
    public final Counter writebackErrors;
    public final Counter commits;
    public final Timer writebackLatency;
    public final Timer completionLatency;

    /** WARN_ON_ONCE-style events by site: the kernel would have printed a warning here. */
    public void warn(String site) {
        Counter.builder("iomapfs.warn").tag("site", site).description("kernel-style WARN conditions met").register(registry).increment();
    }

    public EngineMetrics(MeterRegistry registry) {
        this.registry = registry;
        cacheHits = Counter.builder("iomapfs.pagecache.hits").description("folio lookups that found the folio").register(registry);
        cacheMisses = Counter.builder("iomapfs.pagecache.misses").description("folio lookups that had to create the folio").register(registry);
        cacheEvictions = Counter.builder("iomapfs.pagecache.evictions").description("clean folios reclaimed").register(registry);
        Gauge.builder("iomapfs.pagecache.folios", cachedFolios, AtomicLong::get).register(registry);
        Gauge.builder("iomapfs.pagecache.dirty", dirtyFolios, AtomicLong::get).description("dirty folios").register(registry);
        Gauge.builder("iomapfs.pagecache.writeback", writebackFolios, AtomicLong::get).description("folios under writeback").register(registry);
        iomapBegins = Counter.builder("iomapfs.iomap.begins").register(registry);
        staleMaps = Counter.builder("iomapfs.iomap.stale").description("cached iomaps found stale by ->iomap_valid").register(registry);
        remaps = Counter.builder("iomapfs.iomap.remaps").description("iomap_begin calls made to replace a stale map").register(registry);
        delallocReservedBytes = Counter.builder("iomapfs.delalloc.reserved.bytes").register(registry);
        delallocPunchedBytes = Counter.builder("iomapfs.delalloc.punched.bytes").register(registry);
        writebackErrors = Counter.builder("iomapfs.writeback.errors").register(registry);
        commits = Counter.builder("iomapfs.metadata.commits").register(registry);
        writebackLatency = Timer.builder("iomapfs.writeback.latency").description("folio lock to I/O submitted").register(registry);
        completionLatency = Timer.builder("iomapfs.completion.latency").description("I/O submitted to writeback ended").register(registry);
    }
}
