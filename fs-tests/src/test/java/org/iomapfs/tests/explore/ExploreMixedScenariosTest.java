package org.iomapfs.tests.explore;

import org.iomapfs.core.explore.Explorer;
import org.iomapfs.core.explore.Scenario;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The bundled scenarios aimed at no seed bug, in fixed mode: 500 PCT schedules each (bug depth 3; their
 * spaces at two preemptions run past 20,000 schedules, docs/explore.md) break no invariant. mixed-unlink-writeback
 * closes the last handle of an unlinked file in a scenario thread, so eviction (truncate the page cache, waiting
 * for the writeback in flight) races with writes, writeback and completion; its invariant is that no thread
 * deadlocks and the inode and every block it held are freed. mixed-large-folio runs its operations inside 64 KiB
 * folios.
 */
class ExploreMixedScenariosTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"mixed-truncate-mmap", "mixed-punch-dio", "mixed-unlink-writeback", "mixed-large-folio"})
    void fixedModePassesFiveHundredPctSchedules(String name) throws Exception {
        Scenario sc = Scenario.bundled(name);
        Explorer ex = new Explorer(dir, Explorer.switches("fixed", List.of()));
        Explorer.Report r = ex.explore(sc, new Explorer.Options("pct", 0, 3, 500, 0, 1, false));
        System.out.printf("%s fixed: %d PCT schedules (%.1f/s), %d distinct ends, %d failures%n",
                name, r.schedules(), r.perSecond(), r.distinctEnds(), r.failures());
        assertEquals(500, r.schedules(), "the whole budget ran");
        assertEquals(0, r.failures(), () -> r.firstFailure().failure());
    }
}
