package org.iomapfs.shim.compare;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** compare --fstests' reading of check's output and of the daemons' logs (no mount, no fstests). */
class FstestsCompareTest {
    @TempDir
    Path dir;

    @Test
    void readsCheckOutcomes() {
        // check's lines: test name, the previous time and "...", then the outcome (check: printf, _dump_err)
        FstestsCompare.Outcome pass = FstestsCompare.outcome("generic/091",
            "FSTYP -- fuse\n\ngeneric/091 8s ...  9s\nRan: generic/091\nPassed all 1 tests\n");
        assertEquals(new FstestsCompare.Outcome("passed", 9, null), pass);
        FstestsCompare.Outcome fail = FstestsCompare.outcome("generic/346",
            "generic/346 65s ... - output mismatch (see /r/generic/346.out.bad)\n    --- tests/generic/346.out\n"
                + "Ran: generic/346\nFailures: generic/346\nFailed 1 of 1 tests\n");
        assertEquals(new FstestsCompare.Outcome("failed", -1, "- output mismatch (see /r/generic/346.out.bad)"), fail);
        FstestsCompare.Outcome notrun = FstestsCompare.outcome("generic/002",
            "generic/002       [not run] this test requires a valid $SCRATCH_DEV\nNot run: generic/002\nPassed all 0 tests\n");
        assertEquals(new FstestsCompare.Outcome("notrun", -1, "this test requires a valid $SCRATCH_DEV"), notrun);
        FstestsCompare.Outcome status = FstestsCompare.outcome("generic/344",
            "generic/344       [failed, exit status 1]- output mismatch (see x)\nRan: generic/344\nFailures: generic/344\n");
        assertEquals("failed", status.result());
        assertTrue(status.reason().startsWith("[failed, exit status 1]"), status.reason());
        // a test named as a prefix of another is not taken for it
        assertEquals(null, FstestsCompare.outcome("generic/34", "Ran: generic/344\nFailures: generic/344\n").result());
        assertEquals(null, FstestsCompare.outcome("generic/344", "check: failed to mount\n").result(), "no result");
    }

    @Test
    void sumsEveryDaemonsCountersAtExitOrAtHang() throws Exception {
        Path logs = dir.resolve("logs");
        Files.createDirectories(logs.resolve("check"));
        Files.createDirectories(logs.resolve("generic/346"));
        Files.writeString(logs.resolve("check/t_test.1.log"), "2026-12-02 22:00:00.000 mounted\n"
            + "2026-12-02 22:01:00.000 counters at exit: iomapfs_bug_fired_total{bug=\"stale-iomap\"}=2.0\n");
        Files.writeString(logs.resolve("generic/346/t_scratch.1.log"), "x\n2026-12-02 22:00:30.000 counters at exit: "
            + "iomapfs_bug_fired_total{bug=\"stale-iomap\"}=3.0 iomapfs_bug_fired_total{bug=\"punch-truncates-pagecache\"}=5.0 "
            + "iomapfs_warn_total{site=\"mkwrite_not_uptodate\"}=1.0\n");
        // hung and aborted: no exit line, the guard's reading beside the log
        Files.writeString(logs.resolve("generic/346/t_scratch.2.log"), "INFO: task iomapfs-req-1 blocked for more than 60 seconds\n");
        Files.writeString(logs.resolve("generic/346/t_scratch.2.at-hang"),
            "counters at hang: iomapfs_bug_fired_total{bug=\"mkwrite-uses-write-ops\"}=7.0 ");
        // killed: nothing
        Files.writeString(logs.resolve("generic/346/t_scratch.3.log"), "mounted\n");
        FstestsCompare.Counters c = FstestsCompare.counters(logs);
        assertEquals(Map.of("stale-iomap", 5L, "punch-truncates-pagecache", 5L, "mkwrite-uses-write-ops", 7L), c.bugFired);
        assertEquals(Map.of("mkwrite_not_uptodate", 1L), c.warns);
        assertEquals(4, c.daemons);
        assertEquals(1, c.hung);
        assertEquals(1, c.missing);
    }

    @Test
    void passesModeInjectionsAndProfileAsHelperOptions() {
        FstestsCompare fc = new FstestsCompare(dir, dir.resolve("run-fstests"), Map.of("copyin_fail", "0.5"),
            "punch-delalloc", List.of("cache_mb=64"), dir, 60, 60, System.err);
        assertEquals("mode=buggy,inject=copyin_fail=0.5,profile=punch-delalloc,cache_mb=64", fc.options("buggy"));
        assertTrue(fc.subtype().matches("iomapfscmp[0-9a-f]+"), fc.subtype());
    }

    @Test
    void listsAGroupFromTheBuiltGroupLists() throws Exception {
        Files.createDirectories(dir.resolve("tests/generic"));
        Files.createDirectories(dir.resolve("tests/xfs"));
        Files.writeString(dir.resolve("tests/generic/group.list"), "# comment\n344 auto mmap\n346 auto quick rw mmap\n");
        Files.writeString(dir.resolve("tests/xfs/group.list"), "559 auto quick rw\n");
        assertEquals(List.of("generic/346", "xfs/559"), FstestsCompare.group(dir, "quick"));
        assertEquals(List.of("generic/344", "generic/346"), FstestsCompare.group(dir, "mmap"));
    }
}
