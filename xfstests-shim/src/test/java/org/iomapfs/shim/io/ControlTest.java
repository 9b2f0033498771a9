package org.iomapfs.shim.io;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class ControlTest {
    static final String METRICS = """
        # HELP iomapfs_bug_fired_total times a buggy branch did the harmful thing
        # TYPE iomapfs_bug_fired_total counter
        iomapfs_bug_fired_total{bug="stale-iomap"} 3.0
        iomapfs_bug_fired_total{bug="punch-truncates-pagecache"} 0.0
        iomapfs_iomap_stale_total 7.0
        iomapfs_writeback_latency_seconds_count 12
        """;

    @Test
    void samplesByNameWithLabels() {
        Map<String, Double> s = Control.samples(METRICS);
        assertEquals(3.0, s.get("iomapfs_bug_fired_total{bug=\"stale-iomap\"}"));
        assertEquals(7.0, s.get("iomapfs_iomap_stale_total"));
        assertEquals(12.0, s.get("iomapfs_writeback_latency_seconds_count"));
        assertEquals(4, s.size());
    }

    @Test
    void bugFiredByBugLabel() {
        assertEquals(Map.of("stale-iomap", 3L, "punch-truncates-pagecache", 0L), Control.bugFired(Control.samples(METRICS)));
    }

    @Test
    void durations() {
        assertEquals(500, Budget.parseDurationMs("500ms"));
        assertEquals(30_000, Budget.parseDurationMs("30s"));
        assertEquals(120_000, Budget.parseDurationMs("2m"));
        assertEquals(7_000, Budget.parseDurationMs("7"));
        assertThrows(IllegalArgumentException.class, () -> Budget.parseDurationMs("soon"));
    }

    @Test
    void summaryLineRoundTrips() {
        Summary s = new Summary("holetest", 2, 64, 1, 8, 120, 900, Map.of("variant", "-w"));
        assertEquals(s, Summary.parse(s.line()).orElseThrow());
        assertTrue(Summary.parse("INFO: 0 error(s)").isEmpty());
    }
}
