package org.iomapfs.tests.explore;

import org.iomapfs.fuse.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** `iomapfs explore` in-process: exit statuses, explore.json, the saved schedule and --replay of it. */
class ExploreCliTest {
    @TempDir
    Path dir;

    @Test
    void findsSavesAndReplays() throws Exception {
        Path out = dir.resolve("out");
        assertEquals(0, Main.run("explore", "fault-in-deadlock", "--mode", "fixed", "--bug", "fault-in-deadlock=buggy",
                "--budget", "50", "--out", out.toString()), "a failure in buggy mode is what was asked for");
        String json = Files.readString(out.resolve("explore.json"));
        assertTrue(json.contains("\"failures\": 1"), json);
        assertTrue(json.contains("\"firstFailureAt\": 1"), json);
        Path saved = out.resolve("fault-in-deadlock.schedule");
        assertTrue(Files.readString(saved).contains("fault-in-deadlock=buggy"));
        assertEquals(1, Main.run("explore", "--replay", saved.toString()), "the replayed run fails again");
    }

    @Test
    void fixedModeExitsZeroWithoutFailureAndTwoOnBadInput() throws Exception {
        Path out = dir.resolve("fixed");
        assertEquals(0, Main.run("explore", "mkwrite-uses-write-ops", "--mode", "fixed", "--preemptions", "1",
                "--out", out.toString()));
        String json = Files.readString(out.resolve("explore.json"));
        assertTrue(json.contains("\"exhausted\": true") && json.contains("\"failures\": 0"), json);
        assertEquals(2, Main.run("explore", "no-such-scenario", "--out", out.toString()));
        assertEquals(2, Main.run("explore", "stale-iomap", "--bug", "no-such-bug=buggy", "--out", out.toString()));
        assertEquals(2, Main.run("explore", "stale-iomap", "--strategy", "bfs", "--out", out.toString()));
        assertEquals(2, Main.run("explore", "--replay", dir.resolve("missing").toString(), "--out", out.toString()));
    }
}
