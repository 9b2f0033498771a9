package org.iomapfs.tests.explore;

import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.explore.Execution;
import org.iomapfs.core.explore.Explorer;
import org.iomapfs.core.explore.SavedSchedule;
import org.iomapfs.core.explore.Scenario;
import org.iomapfs.core.sched.Sched;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The explorer on the stale-iomap scenario (scenarios/stale-iomap.scn: xfs/559's shape, no latch, no delay):
 * buggy mode finds the interleaving of docs/bugs.md by depth-first search, shrinks it to two preemptions and
 * the documented steps, and the saved schedule replays to the same failure ten times out of ten; fixed mode
 * passes every schedule with at most two preemptions (11,296 schedules, about a minute on an idle 2-core
 * machine: docs/explore.md).
 */
class ExploreStaleIomapTest {
    @TempDir
    static Path dir;

    static Scenario sc;

    @BeforeAll
    static void load() throws Exception {
        assertTrue(Sched.ON, "the build runs tests with -Diomapfs.explore=true (root pom)");
        sc = Scenario.bundled("stale-iomap");
        assertNotNull(sc);
    }

    static Map<Bug, Boolean> only(Bug b, boolean buggy) {
        return Explorer.switches("fixed", buggy ? List.of(b.id + "=buggy") : List.of());
    }

    @Test
    void buggyModeFindsShrinksAndReplaysTheStaleMap() throws Exception {
        Explorer ex = new Explorer(dir.resolve("buggy"), only(Bug.STALE_IOMAP, true));
        java.nio.file.Files.createDirectories(dir.resolve("buggy"));
        Explorer.Report r = ex.explore(sc, new Explorer.Options("dfs", 2, 3, 3000, 0, 1, true));
        assertNotNull(r.firstFailure(), "DFS with two preemptions finds the stale map within 3000 schedules");
        System.out.printf("stale-iomap buggy: first failure after %d schedules (%.1f/s)%n", r.firstFailureAt(), r.perSecond());
        Explorer.Shrunk s = ex.shrink(sc, r.firstFailure(), 2000);
        List<String> steps = Explorer.steps(s.result());
        steps.forEach(System.out::println);
        assertEquals("data", s.result().kind());
        assertEquals(2, s.result().preemptions());
        String all = String.join("\n", steps);
        // the documented interleaving, in order
        int a = all.indexOf("write gets its iomap at 0 from ->iomap_begin and caches it");
        int b = all.indexOf("writeback maps block 9");
        int c = all.indexOf("completion converts block 9 to written");
        int d = all.indexOf("reclaim evicts folio 9");
        int e = all.indexOf("write locks folio 9");
        int f = all.indexOf("write zeroes block 9");
        assertTrue(a >= 0 && a < b && b < c && c < d && d < e && e < f, all);
        assertTrue(all.contains("first at byte 40959 (block 9): 0x00, want 0x5a"), all);
        assertEquals(Map.of("stale-iomap", 1L), s.result().fired());

        Path saved = dir.resolve("stale-iomap.schedule");
        new SavedSchedule(only(Bug.STALE_IOMAP, true), s.schedule(), s.result().failure(), s.scenario()).save(saved, steps);
        SavedSchedule back = SavedSchedule.load(saved);
        Explorer replayer = new Explorer(dir.resolve("buggy"), back.bugs());
        for (int i = 0; i < 10; i++) {
            Execution.Result again = replayer.replay(back.scenario(), back.schedule());
            assertEquals(s.result().failure(), again.failure(), "replay " + i);
            assertEquals(steps, Explorer.steps(again), "replay " + i + " took the same steps");
        }
    }

    @Test
    void fixedModePassesEveryScheduleWithinThePreemptionBound() throws Exception {
        java.nio.file.Files.createDirectories(dir.resolve("fixed"));
        Explorer ex = new Explorer(dir.resolve("fixed"), only(Bug.STALE_IOMAP, false));
        Explorer.Report r = ex.explore(sc, new Explorer.Options("dfs", ExploreSeedBugsTest.FIXED_BOUND, 3, 100_000, 0, 1, false));
        System.out.printf("stale-iomap fixed: %d schedules with at most %d preemptions (%.1f/s), %d failures%n",
                r.schedules(), ExploreSeedBugsTest.FIXED_BOUND, r.perSecond(), r.failures());
        assertTrue(r.exhausted(), "the search ran every schedule within the bound");
        assertEquals(0, r.failures(), () -> r.firstFailure().failure());
        assertTrue(r.schedules() > 50, "more than a handful of schedules: " + r.schedules());
    }
}
