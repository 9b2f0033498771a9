package org.iomapfs.shim.fsx;

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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fsx on a local file (the build machine's own file system, no mount): it passes where the file system is sound,
 * it reports a byte changed behind its back with the offset, the bytes and the operations that wrote there, and
 * a recorded .fsxops log replays to the same file.
 */
class FsxTest {
    @TempDir
    Path tmp;

    record Run(int rc, String out) { }

    static Run run(Fsx fsx, String... args) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
        PrintStream err = System.err;
        int rc;
        System.setErr(ps);
        try {
            rc = Cli.run("fsx", fsx, args);
        } finally {
            System.setErr(err);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        return new Run(rc, out);
    }

    static Fsx fsx(ByteArrayOutputStream sink) {
        return new Fsx(new PrintStream(sink, true, StandardCharsets.UTF_8));
    }

    @Test
    void randomRunPassesOnALocalFile() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        Run r = run(fsx(sink), "-N", "3000", "-S", "7", "-P", tmp.toString(), tmp.resolve("f").toString());
        String out = sink.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(0, r.rc(), out);
        assertTrue(out.contains("Seed set to 7"), out);
        assertTrue(out.contains("All 3000 operations completed A-OK!"), out);
        assertTrue(out.matches("(?s).*mapwrite [1-9]\\d* .*"), "mapped writes ran: " + out);
    }

    @Test
    void aByteChangedBehindItsBackIsReportedWithOffsetBytesAndWriters() throws IOException {
        Path f = tmp.resolve("f");
        long[] corrupted = {-1};
        byte[][] before = new byte[1][];
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        Fsx fsx = fsx(sink);
        fsx.afterOp = n -> {
            if (n != 500) {
                return;
            }
            try (FileChannel c = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                before[0] = Files.readAllBytes(f);
                long off = c.size() / 2;
                ByteBuffer b = ByteBuffer.allocate(1);
                c.read(b, off);
                c.write(ByteBuffer.wrap(new byte[] {(byte) ~b.get(0)}), off);
                corrupted[0] = off;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        run(fsx, "-N", "500", "-S", "11", "-P", tmp.toString(), f.toString());
        String out = sink.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertTrue(before[0] != null && before[0].length > 0, "the file had data at operation 500: " + out);
        // the last operation is followed only by the final check through the daemon, which must see the byte
        assertTrue(out.contains("final check"), out);
        assertTrue(out.contains(String.format("first bad offset 0x%x", corrupted[0])), out);
        assertTrue(out.contains("last operations that changed 0x" + Long.toHexString(corrupted[0])), out);
        assertTrue(out.contains(String.format("expected %02x", before[0][(int) corrupted[0]] & 0xff)), out);
        assertTrue(out.contains(String.format("actual   %02x", ~before[0][(int) corrupted[0]] & 0xff)), out);
        assertArrayEquals(before[0], Files.readAllBytes(tmp.resolve("f.fsxgood")), "fsxgood holds the expected file");
        assertTrue(out.contains("replay with: fsx --replay " + tmp.resolve("f.fsxops")), out);
        Run again = run(new Fsx(), "-N", "500", "-S", "11", "-P", tmp.toString(), f.toString());
        assertEquals(0, again.rc(), "the same run without the corruption passes");
    }

    @Test
    void failureExitStatusIsFsxs() {
        Path f = tmp.resolve("g");
        Fsx fsx = new Fsx(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        fsx.afterOp = n -> {
            if (n == 300) {
                try {
                    Files.write(f, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
        assertEquals(120, Cli.run("fsx", fsx, "-N", "400", "-S", "5", "-P", tmp.toString(), f.toString()),
            "a size changed behind fsx's back is a size error (fsx status 120)");
    }

    @Test
    void aRecordedLogReplaysToTheSameFile() throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        assertEquals(0, run(fsx(sink), "-N", "2000", "-S", "99", "-c", "50", "-P", tmp.toString(), a.toString()).rc());
        List<String> ops = Files.readAllLines(tmp.resolve("a.fsxops"));
        assertEquals(2001, ops.size(), "a header line and one line per operation");
        assertTrue(ops.stream().anyMatch(l -> l.contains("close_open")), "the -c flag is logged");
        ByteArrayOutputStream sink2 = new ByteArrayOutputStream();
        Run r = run(fsx(sink2), "--replay", tmp.resolve("a.fsxops").toString(), "-P", tmp.resolve("r").toString(),
            b.toString());
        String out = sink2.toString(StandardCharsets.UTF_8);
        assertEquals(0, r.rc(), out);
        assertTrue(out.contains("Seed set to 99") && out.contains("All 2000 operations completed A-OK!"), out);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "replay rebuilds the same file");
        assertEquals(ops.subList(1, ops.size()), Files.readAllLines(tmp.resolve("r/b.fsxops")).subList(1, 2001),
            "the replay performs the same operations");
    }

    @Test
    void badArgumentsGiveOneLineAndStatus2() {
        Run r = run(new Fsx(), "-Z", "-r", "512", tmp.resolve("f").toString());
        assertEquals(2, r.rc());
        assertEquals(1, r.out().strip().lines().count(), r.out());
        assertTrue(r.out().contains("multiples of 4096"), r.out());
        Run how = run(new Fsx(), "--daemon-read", "page-cache", tmp.resolve("f").toString());
        assertEquals(2, how.rc());
        assertTrue(how.out().contains("bad --daemon-read 'page-cache'"), how.out());
        Run missing = run(new Fsx(), "-N", "10");
        assertEquals(2, missing.rc());
        assertEquals(1, missing.out().strip().lines().count(), missing.out());
    }
}
