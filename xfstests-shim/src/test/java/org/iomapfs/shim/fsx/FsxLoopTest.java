package org.iomapfs.shim.fsx;

import org.iomapfs.shim.io.Summary;
import org.iomapfs.shim.sys.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fsx-loop on a local file (no mount): rounds and the operation budget, the RESULT line that compare parses
 * (a failing round is one corrupted marker, its bad bytes are the failing read's), and which logs are kept.
 */
class FsxLoopTest {
    @TempDir
    Path tmp;

    record Run(int rc, String out, Summary result) { }

    static Run run(FsxLoop loop, ByteArrayOutputStream sink, String... args) {
        int rc = Cli.run("fsx-loop", loop, args);
        String out = sink.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        List<Summary> results = out.lines().map(Summary::parse).flatMap(java.util.Optional::stream).toList();
        return new Run(rc, out, results.isEmpty() ? null : results.get(results.size() - 1));
    }

    static FsxLoop loop(ByteArrayOutputStream sink) {
        return new FsxLoop(new PrintStream(sink, true, StandardCharsets.UTF_8));
    }

    @Test
    void theOperationBudgetIsSplitIntoRoundsOnFreshFilesAndCleanRoundsLeaveNothing() throws IOException {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        Run r = run(loop(sink), sink, "--ops", "500", "--round-ops", "200", "-S", "3", "-P", tmp.resolve("logs").toString(),
            tmp.resolve("t").toString());
        assertEquals(0, r.rc(), r.out());
        assertEquals("fsx", r.result().workload());
        assertEquals(3, r.result().rounds(), "200 + 200 + 100 operations");
        assertEquals(500, r.result().ops());
        assertEquals(0, r.result().corruptedMarkers());
        assertEquals(-1, r.result().firstCorruptionMs());
        assertTrue(r.out().contains("fsx -S 5 -N 100 " + tmp.resolve("t.3")), "round 3 has seed 3+2 and the rest: " + r.out());
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(), files.toList(), "no test file, no log of a passing round, no empty log directory");
        }
    }

    @Test
    void aFailingRoundIsOneCorruptedMarkerWithTheBadBytesOfItsFailingRead() throws IOException {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        FsxLoop loop = loop(sink);
        Path second = tmp.resolve("t.2");
        // one byte of round 2's file flipped after its last operation: only the final check through the daemon reads it
        loop.afterOp = round -> round != 2 ? null : n -> {
            if (n != 200) {
                return;
            }
            try (FileChannel c = FileChannel.open(second, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.allocate(1);
                long off = c.size() / 2;
                c.read(b, off);
                c.write(ByteBuffer.wrap(new byte[] {(byte) ~b.get(0)}), off);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        Run r = run(loop, sink, "--rounds", "3", "--round-ops", "200", "-S", "11", "-P", tmp.resolve("logs").toString(),
            tmp.resolve("t").toString(), "--", "--daemon-read", "odirect");
        assertEquals(1, r.rc(), "a round found bad data: " + r.out());
        assertEquals(3, r.result().rounds(), "the loop goes on after a failing round");
        assertEquals(600, r.result().ops());
        assertEquals(1, r.result().corruptedMarkers(), "one failing round");
        assertEquals(1, r.result().corruptedBytes(), "the one flipped byte");
        assertTrue(r.out().contains("final check (O_DIRECT read) BAD DATA"), "found by the O_DIRECT check: " + r.out());
        assertTrue(r.result().firstCorruptionMs() >= 0);
        assertEquals(1L, ((Number) r.result().detail().get("badDataRounds")).longValue());
        Map<?, ?> failing = (Map<?, ?>) ((List<?>) r.result().detail().get("failingRounds")).get(0);
        assertEquals(2, ((Number) failing.get("round")).intValue());
        assertEquals(12, ((Number) failing.get("seed")).intValue());
        assertEquals(FsxLoop.BAD_DATA, ((Number) failing.get("status")).intValue());
        assertTrue(Files.exists(tmp.resolve("logs/t.2.fsxops")), "the failing round's log is kept for --replay");
        assertFalse(Files.exists(tmp.resolve("logs/t.1.fsxops")) || Files.exists(tmp.resolve("logs/t.3.fsxops")));
    }

    @Test
    void optionsAfterTheSeparatorGoToFsxAndTheLoopsOwnAreRefused() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        Run direct = run(loop(sink), sink, "--rounds", "1", "--round-ops", "100", tmp.resolve("d").toString(), "--", "-Z");
        assertEquals(0, direct.rc(), direct.out());
        assertEquals("-Z", direct.result().detail().get("fsxOptions"));
        String x = tmp.resolve("x").toString();
        for (List<String> bad : List.of(List.of(x, "--", "-N", "5"), List.of(x, "--", "-Z", "-r", "512"),
            List.of(x, "--", "--bogus"), List.of("--round-ops", "0", x))) {
            ByteArrayOutputStream s = new ByteArrayOutputStream();
            String[] args = bad.toArray(String[]::new);
            assertEquals(2, Cli.run("fsx-loop", loop(s), args), "bad arguments exit 2: " + bad);
        }
    }
}
