package org.iomapfs.core.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/** Every meter the engine keeps, registered once on the registry the engine was given. */
public final class EngineMetrics {
    public final MeterRegistry registry;
    public final Counter cacheHits;
    public final Counter cacheMisses;
    public final Counter cacheEvictions;
    public final Counter dirtyThrottled;
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
    public final Counter datasyncsWithoutCommit;
    public final Counter deviceWriteStarts;
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
        dirtyThrottled = Counter.builder("iomapfs.pagecache.dirty.throttled").description("writes paused over the dirty limit (balance_dirty_pages)").register(registry);
        Gauge.builder("iomapfs.pagecache.folios", cachedFolios, AtomicLong::get).description("cached pages (a large folio counts its pages)").register(registry);
        Gauge.builder("iomapfs.pagecache.dirty", dirtyFolios, AtomicLong::get).description("dirty pages").register(registry);
        Gauge.builder("iomapfs.pagecache.writeback", writebackFolios, AtomicLong::get).description("pages under writeback").register(registry);
        iomapBegins = Counter.builder("iomapfs.iomap.begins").register(registry);
        staleMaps = Counter.builder("iomapfs.iomap.stale").description("cached iomaps found stale by ->iomap_valid").register(registry);
        remaps = Counter.builder("iomapfs.iomap.remaps").description("iomap_begin calls made to replace a stale map").register(registry);
        delallocReservedBytes = Counter.builder("iomapfs.delalloc.reserved.bytes").register(registry);
        delallocPunchedBytes = Counter.builder("iomapfs.delalloc.punched.bytes").register(registry);
        writebackErrors = Counter.builder("iomapfs.writeback.errors").register(registry);
        commits = Counter.builder("iomapfs.metadata.commits").register(registry);
        datasyncsWithoutCommit = Counter.builder("iomapfs.fsync.datasync.nocommit")
                .description("fdatasyncs that only flushed data: no metadata but timestamps was unsynced").register(registry);
        deviceWriteStarts = Counter.builder("iomapfs.writeback.device.starts")
                .description("device writes a sync writeback pass started as it went (sync_file_range on the image)").register(registry);
        writebackLatency = Timer.builder("iomapfs.writeback.latency").description("folio lock to I/O submitted").register(registry);
        completionLatency = Timer.builder("iomapfs.completion.latency").description("I/O submitted to writeback ended").register(registry);
    }

    /**
     * The gauges that show whether the daemon's footprint is bounded: the JVM heap (used now, used after the
     * last collection, committed, max), the page cache against its budget, the LRU list, and the metadata file.
     */
    public void bindFootprint(LongSupplier cachedFolios, LongSupplier budgetBytes, LongSupplier lruFolios,
                              LongSupplier metaFileBytes, int folioSize) {
        bytes("iomapfs.jvm.heap.used", "heap in use, garbage included",
                () -> ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        bytes("iomapfs.jvm.heap.live", "heap in use after the last garbage collection", EngineMetrics::heapAfterGc);
        bytes("iomapfs.jvm.heap.committed", "heap the JVM has reserved from the OS",
                () -> ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted());
        bytes("iomapfs.jvm.heap.max", "the heap limit (-Xmx)",
                () -> ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax());
        bytes("iomapfs.pagecache.cached", "cached pages times the page size",
                () -> cachedFolios.getAsLong() * folioSize);
        bytes("iomapfs.pagecache.budget", "the page-cache budget reclaim keeps the cache near", budgetBytes);
        Gauge.builder("iomapfs.pagecache.lru", () -> lruFolios.getAsLong()).description("folios on the reclaim LRU list")
                .register(registry);
        bytes("iomapfs.metadata.file", "size of IMAGE.meta", metaFileBytes);
    }

    private void bytes(String name, String description, LongSupplier value) {
        Gauge.builder(name, () -> value.getAsLong()).description(description).baseUnit("bytes").register(registry);
    }

    /** The heap pools' usage as their last collection left it (what is live), summed. */
    private static long heapAfterGc() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            MemoryUsage u = pool.getType() == MemoryType.HEAP ? pool.getCollectionUsage() : null;
            if (u != null) {
                sum += u.getUsed();
            }
        }
        return sum;
    }
}
