package org.iomapfs.tests.explore;

import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.explore.Execution;
import org.iomapfs.core.explore.Explorer;
import org.iomapfs.core.explore.SavedSchedule;
import org.iomapfs.core.explore.Scenario;
import org.iomapfs.core.sched.Sched;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The explorer on the generic scenario of each seed bug but stale-iomap (ExploreStaleIomapTest has that one):
 * no latch, no injected delay; the scenario names operations only. Buggy mode (that one switch) finds a
 * failure within the budget, the shrunk run has docs/bugs.md's steps in order and the documented symptom, and
 * its saved schedule replays to the same steps ten times out of ten. Fixed mode passes every schedule with at
 * most {@link #FIXED_BOUND} preemptions: two, as the explorer's issue asks (378 to 2,607 schedules, 3 to 15 s
 * each on an idle 2-core machine; docs/explore.md has the figures); {@code -Dexplore.preemptions=1} for a
 * quick run.
 */
class ExploreSeedBugsTest {
    /** The fixed-mode search's preemption bound. */
    static final int FIXED_BOUND = Integer.getInteger("explore.preemptions", 2);

    @TempDir
    Path dir;

    /** What each bug's shrunk run must show: strategy and budget, failure kind, steps in order, the symptom. */
    record Expect(String strategy, int preemptions, long budget, String kind, List<String> steps, String symptom) { }

    static final Map<Bug, Expect> EXPECT = Map.of(
            Bug.PUNCH_TRUNCATES_PAGECACHE, new Expect("pct", 0, 2000, "data",
                    List.of("write gets its iomap at 100 from ->iomap_begin", "write calls ->iomap_end at 100",
                            "mwrite 2000 8 seed:3 returns", "write calls ->iomap_end at 108"),
                    "first at byte 2000 (block 0): 0x00"),
            Bug.MKWRITE_USES_WRITE_OPS, new Expect("dfs", 2, 100, "data",
                    List.of("page fault dirties folio 0 (page_mkwrite)", "writepage 0 1p seed:11 short=0 returns 4096",
                            "writeback maps block 0"),
                    "first at byte 0 (block 0): 0x00"),
            Bug.MKWRITE_NOT_UPTODATE, new Expect("dfs", 2, 100, "data",
                    List.of("mwrite 0 100 seed:1 returns", "fsync eio fails: EIO", "mwrite 1000 100 seed:2 returns",
                            "WARN page_mkwrite on a !uptodate folio"),
                    "0x00, want"),
            Bug.GUP_DIRTY_WITHOUT_STATE, new Expect("dfs", 2, 500, "warn",
                    List.of("direct read pins its destination pages", "reclaim evicts folio", "mapread 0 1p 1p returns 4096"),
                    "WARN: writeback_dirty_folio_without_state"),
            Bug.FAULT_IN_DEADLOCK, new Expect("dfs", 2, 100, "deadlock",
                    List.of("write gets its iomap at 100", "write locks folio 0", "writefrommap 100 200 0 fails: EDEADLK"),
                    "faulted on a folio it holds locked"));

    static Map<Bug, Boolean> only(Bug b, boolean buggy) {
        return Explorer.switches("fixed", buggy ? List.of(b.id + "=buggy") : List.of());
    }

    @ParameterizedTest
    @EnumSource(value = Bug.class, names = {"PUNCH_TRUNCATES_PAGECACHE", "MKWRITE_USES_WRITE_OPS", "MKWRITE_NOT_UPTODATE",
            "GUP_DIRTY_WITHOUT_STATE", "FAULT_IN_DEADLOCK"})
    void buggyFindsShrinksAndReplays(Bug bug) throws Exception {
        assertTrue(Sched.ON, "the build runs tests with -Diomapfs.explore=true (root pom)");
        Scenario sc = Scenario.bundled(bug.id);
        Expect x = EXPECT.get(bug);
        Explorer ex = new Explorer(dir.resolve("buggy"), only(bug, true));
        Explorer.Report r = ex.explore(sc, new Explorer.Options(x.strategy(), x.preemptions(), 3, x.budget(), 0, 1, true));
        assertNotNull(r.firstFailure(), bug.id + ": " + x.strategy() + " finds a failure within " + x.budget() + " schedules");
        Explorer.Shrunk s = ex.shrink(sc, r.firstFailure(), 300);
        List<String> steps = Explorer.steps(s.result());
        System.out.printf("%s buggy: first failure after %d %s schedules (%.1f/s); shrunk to %d preemptions, %d operations:%n",
                bug.id, r.firstFailureAt(), x.strategy(), r.perSecond(), s.result().preemptions(), s.scenario().opCount());
        steps.forEach(System.out::println);
        assertEquals(x.kind(), s.result().kind(), s.result().failure());
        String all = String.join("\n", steps);
        int at = -1;
        for (String step : x.steps()) {
            int i = all.indexOf(step, at + 1);
            assertTrue(i > at, "step '" + step + "' after the previous one in\n" + all);
            at = i;
        }
        assertTrue(s.result().failure().contains(x.symptom()), s.result().failure());

        Path saved = dir.resolve(bug.id + ".schedule");
        new SavedSchedule(only(bug, true), s.schedule(), s.result().failure(), s.scenario()).save(saved, steps);
        SavedSchedule back = SavedSchedule.load(saved);
        Explorer replayer = new Explorer(dir.resolve("replay"), back.bugs());
        for (int i = 0; i < 10; i++) {
            Execution.Result again = replayer.replay(back.scenario(), back.schedule());
            assertEquals(steps, Explorer.steps(again), "replay " + i + " took the same steps");
        }
    }

    @ParameterizedTest
    @EnumSource(value = Bug.class, names = {"PUNCH_TRUNCATES_PAGECACHE", "MKWRITE_USES_WRITE_OPS", "MKWRITE_NOT_UPTODATE",
            "GUP_DIRTY_WITHOUT_STATE", "FAULT_IN_DEADLOCK"})
    void fixedPassesEveryScheduleWithinThePreemptionBound(Bug bug) throws Exception {
        Scenario sc = Scenario.bundled(bug.id);
        Explorer ex = new Explorer(dir.resolve("fixed"), only(bug, false));
        Explorer.Report r = ex.explore(sc, new Explorer.Options("dfs", FIXED_BOUND, 3, 100_000, 0, 1, false));
        System.out.printf("%s fixed: %d schedules with at most %d preemptions (%.1f/s), %d failures%n",
                bug.id, r.schedules(), FIXED_BOUND, r.perSecond(), r.failures());
        assertTrue(r.exhausted(), "the search ran every schedule within the bound");
        assertEquals(0, r.failures(), () -> r.firstFailure().failure());
    }
}
