package org.iomapfs.tests.shim;

import org.iomapfs.shim.holetest.Holetest;
import org.iomapfs.shim.io.Summary;
import org.iomapfs.tests.mount.LiveMount;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every holetest invocation of generic/344, 345 and 346 (fstests) against a fixed-mode mount, each marker
 * checked through the mapping and through the daemon (O_DIRECT, and a read after a kernel cache drop). Each
 * invocation here uses one sizing method rather than holetest's four in turn, to keep the run short; the
 * matrix covers every method at least once at 16 or 256 MiB, and -w 1 MiB runs all four.
 */
class HoletestTest {
    @TempDir
    static Path dir;
    static LiveMount mount;

    @BeforeAll
    static void mount() {
        LiveMount.assumeFuse("HoletestTest");
        mount = LiveMount.start(dir, "1G", "--mode", "fixed");
    }

    @AfterAll
    static void unmount() {
        if (mount != null) {
            mount.close();
        }
    }

    static Stream<Arguments> variants() {
        return Stream.of(
            // generic/344: holetest -f -r, then -f -r -w, at 16 and 256 MiB
            Arguments.of("generic/344", "-r", 16, "zero-fill"),
            Arguments.of("generic/344", "-r", 256, "posix-fallocate"),
            Arguments.of("generic/344", "-r -w", 16, "fallocate"),
            Arguments.of("generic/344", "-r -w", 256, "ftruncate"),
            // generic/345: holetest -f -F, then -f -F -r, at 16 and 256 MiB
            Arguments.of("generic/345", "-F", 16, "ftruncate"),
            Arguments.of("generic/345", "-F", 256, "zero-fill"),
            Arguments.of("generic/345", "-F -r", 16, "posix-fallocate"),
            Arguments.of("generic/345", "-F -r", 256, "fallocate"),
            // generic/346: holetest -f -w at 1, 16 and 256 MiB
            Arguments.of("generic/346", "-w", 1, "zero-fill,posix-fallocate,fallocate,ftruncate"),
            Arguments.of("generic/346", "-w", 16, "posix-fallocate"),
            Arguments.of("generic/346", "-w", 256, "ftruncate"));
    }

    @ParameterizedTest(name = "{0}: holetest -f {1} FILE {2} (sizing {3})")
    @MethodSource("variants")
    void markersSurviveThroughTheDaemonInFixedMode(String test, String flags, int mib, String sizing) throws Exception {
        List<String> args = new ArrayList<>(List.of("-f"));
        args.addAll(List.of(flags.split(" ")));
        args.addAll(List.of("--sizing", sizing, "--daemon-read", "both", mount.mnt.resolve("testfile").toString(),
            Integer.toString(mib)));
        LiveMount.Proc p = LiveMount.workload(240, Holetest.class.getName(), args.toArray(String[]::new));
        Summary s = p.out().lines().map(Summary::parse).flatMap(java.util.Optional::stream).reduce((a, b) -> b)
            .orElseThrow(() -> new AssertionError("holetest printed no RESULT line:\n" + p.out()));
        int methods = sizing.split(",").length;
        assertEquals(methods, s.rounds(), "one round per sizing method");
        assertEquals((long) methods * mib * 256 * 2, s.ops(), "two markers in every page of every round");
        assertEquals("both", s.detail().get("daemonRead"), "the daemon was read both ways (O_DIRECT and after a cache drop)");
        assertEquals(0, s.corruptedMarkers(), test + " " + flags + ": markers lost");
        assertEquals(0, s.corruptedBytes(), test + " " + flags + ": bytes changed");
        assertEquals(0, p.rc(), "holetest's exit status");
    }
}
