package org.iomapfs.tests.shim;

import org.iomapfs.shim.fsx.Fsx;
import org.iomapfs.tests.mount.LiveMount;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fsx (xfstests-shim, after fstests ltp/fsx.c) as its own process against a fresh mount in the default (fixed)
 * mode: issue 5's acceptance of 20,000 operations with mapped reads and writes and 20,000 in O_DIRECT mode
 * without a mismatch. fsx checks every read against its shadow copy, and every 5,000 operations and at the end
 * the whole file read through the daemon after fsync and a kernel cache drop. The seeds are fixed so that a
 * failure replays; the .fsxops logs stay in target/fsx-logs (replay: {@code fsx --replay LOG FILE}). Override
 * a seed with -Dfsx.seed=N.
 */
class FsxMountTest {
    @TempDir
    static Path tmp;
    static LiveMount mount;
    static final Path LOGS = Path.of("target", "fsx-logs").toAbsolutePath();
    static final long SEED = Long.getLong("fsx.seed", 0);

    @BeforeAll
    static void mount() throws Exception {
        LiveMount.assumeFuse("FsxMountTest");
        mount = LiveMount.start(tmp, "1G");
        assertEquals("fixed", mount.ctl("mode"), "a fresh mount runs the fixed engine");
        Files.createDirectories(LOGS);
    }

    @AfterAll
    static void unmount() {
        if (mount != null) {
            mount.close();
        }
    }

    static LiveMount.Proc fsx(long defaultSeed, String file, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("-S", Long.toString(SEED != 0 ? SEED : defaultSeed),
            "-P", LOGS.toString(), "--check-every", "5000", "-p", "5000"));
        a.addAll(List.of(args));
        a.add(mount.mnt.resolve(file).toString());
        return LiveMount.workload(900, Fsx.class.getName(), a.toArray(String[]::new));
    }

    static long done(String out, String op) {
        Matcher m = Pattern.compile("done: .*\\b" + op + " (\\d+)").matcher(out);
        assertTrue(m.find(), "no count of " + op + " in: " + out);
        return Long.parseLong(m.group(1));
    }

    /** generic/075's fsx run, longer: every operation kind, mapped reads and writes included, through the page cache. */
    @Test
    void buffered20000OpsWithMappedReadsAndWrites() throws Exception {
        LiveMount.Proc p = fsx(75, "fsx-buffered", "-N", "20000", "-l", "256k", "-o", "64k");
        assertEquals(0, p.rc(), "fsx found a mismatch; replay with the command it printed:\n" + p.out());
        assertTrue(p.out().contains("All 20000 operations completed A-OK!"), p.out());
        assertTrue(p.out().contains("final check"), "the whole file was compared through the daemon");
        for (String op : List.of("mapread", "mapwrite", "write", "read", "truncate", "fallocate", "punch_hole",
            "zero_range", "fsync")) {
            assertTrue(done(p.out(), op) > 500, op + " ran: " + p.out());
        }
    }

    /**
     * The same fsx can fail: in buggy mode, with the short copy-ins that make mkwrite-uses-write-ops punch the
     * delalloc under a page a mapped write just dirtied (docs/bugs.md), fsx reads zeros back where its mapped
     * write put data, and says so with fsx's status 110. Another mount, so the fixed runs above stay fixed.
     */
    @Test
    void buggyMkwriteUsesWriteOpsIsCaughtByFsx() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("buggy"));
        try (LiveMount buggy = LiveMount.start(dir, "256M", "--bug", "mkwrite-uses-write-ops=buggy",
            "--inject", "copyin_fail=0.2", "--inject", "copyin_bytes=0", "--inject", "seed=1")) {
            LiveMount.Proc p = LiveMount.workload(900, Fsx.class.getName(), "-S", "1", "-P", LOGS.toString(),
                "-N", "5000", buggy.mnt.resolve("fsx-buggy").toString());
            assertEquals(110, p.rc(), "fsx reports bad data (status 110):\n" + p.out());
            assertTrue(p.out().contains("BAD DATA") && p.out().contains("first bad offset"), p.out());
            assertTrue(p.out().contains("last operations that changed"), p.out());
            Matcher fired = Pattern.compile("iomapfs_bug_fired_total\\{bug=\"mkwrite-uses-write-ops\"[^}]*} (\\S+)")
                .matcher(buggy.ctl("metrics"));
            assertTrue(fired.find() && Double.parseDouble(fired.group(1)) > 0, "the buggy branch fired");
        }
    }

    /**
     * generic/263's fsx run, longer: reads and writes through O_DIRECT (page aligned), truncates to 512-byte
     * boundaries (inside blocks), mixed with mapped reads and writes through the page cache.
     */
    @Test
    void directIo20000Ops() throws Exception {
        LiveMount.Proc p = fsx(263, "fsx-direct", "-N", "20000", "-Z", "-l", "500000", "-o", "128000",
            "-r", "4096", "-w", "4096", "-t", "512");
        assertEquals(0, p.rc(), "fsx -Z found a mismatch; replay with the command it printed:\n" + p.out());
        assertTrue(p.out().contains("All 20000 operations completed A-OK!"), p.out());
        assertTrue(done(p.out(), "read") > 500 && done(p.out(), "write") > 500, "O_DIRECT reads and writes ran");
        assertTrue(done(p.out(), "mapwrite") > 500, "mapped writes ran between them");
    }
}
