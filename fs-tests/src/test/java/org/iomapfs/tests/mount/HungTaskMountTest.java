package org.iomapfs.tests.mount;

import org.iomapfs.fuse.DaemonState;
import org.iomapfs.fuse.ImageLock;
import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon's hung-task watchdog on a real mount (daemon in its own JVM, {@code --hung-timeout 2}). One read is
 * stuck on purpose with {@code inject/block_ino} (the read waits in the engine until the knob changes, which it
 * never does here). The test then observes, from outside, what a user of a hung daemon sees: the log's report
 * with the stuck thread's stack, {@code iomapfs_hung_tasks_total}, {@code iomapfs stats} and {@code iomapfs
 * umount} saying "hung", and {@code umount --force} recovering: connection aborted, mount gone, daemon ended,
 * the stuck reader failed instead of hanging, the image fsck-clean with every fsynced byte.
 */
class HungTaskMountTest {
    private static final long DEADLINE_MS = 60_000;

    @TempDir
    Path tmp;

    @Test
    void aBlockedReadIsReportedOnceAndUmountForceRecovers() throws Exception {
        LiveMount.assumeFuse("HungTaskMountTest");
        Path log = tmp.resolve("daemon.log");
        LiveMount m = LiveMount.start(tmp, "128M", "--cache-mb", "64", "--hung-timeout", "2", "--log", log.toString());
        Process reader = null;
        try {
            byte[] synced = random(1, 300_000);
            write(m.mnt.resolve("synced"), synced);
            Path blocked = m.mnt.resolve("blocked");
            write(blocked, random(2, 8192));
            long ino = (Long) Files.getAttribute(blocked, "unix:ino");
            assertTrue(m.ctl("metrics").contains("iomapfs_hung_tasks_total 0.0"), "the counter is exposed before any hang");
            long daemonPid = DaemonState.find(m.mnt).orElseThrow().pid();

            m.setCtl("inject/block_ino", Long.toString(ino));
            // O_DIRECT: the READ reaches the daemon whatever the kernel has cached
            reader = new ProcessBuilder("dd", "if=" + blocked, "of=/dev/null", "bs=4096", "count=1", "iflag=direct")
                .redirectErrorStream(true).start();

            awaitTrue(() -> hungReport(read(log)) != null, "the daemon log reports the blocked read (log: " + log + ")");
            String report = hungReport(read(log));
            assertTrue(report.contains("org.iomapfs.core.inject.Injector.blockRead"), "the stuck thread's stack:\n" + report);
            assertTrue(report.contains("org.iomapfs.core.IomapFs.read"), report);
            assertTrue(report.contains("held locks"), "its held locks are listed:\n" + report);
            assertTrue(read(log).contains("INFO: task fuse-worker-"), read(log));
            assertTrue(hungTasksTotal(m.ctl("metrics")) >= 1, m.ctl("metrics"));
            assertTrue(reader.isAlive(), "the read is still blocked");

            String stats = stdoutOf("stats", m.mnt.toString());
            assertTrue(stats.startsWith("daemon: HUNG (pid " + daemonPid + ")"), stats);
            assertTrue(Pattern.compile("(?m)^iomapfs_blocked_tasks\\s+[1-9]").matcher(stats).find(), stats);

            StringWriter err = new StringWriter();
            assertEquals(1, Main.run(new PrintWriter(err, true), "umount", m.mnt.toString()));
            assertTrue(err.toString().contains("is hung"), err.toString());
            assertFalse(err.toString().contains("busy"), err.toString());
            assertTrue(Mounts.at(m.mnt).isPresent(), "a plain umount of a hung daemon leaves it mounted");
            // the checker ran several more times meanwhile: still one report for this hang
            assertEquals(1, count(read(log), "Showing every thread's stack"), read(log));

            String forced = stdoutOf("umount", "--force", m.mnt.toString());
            assertTrue(forced.contains("aborted FUSE connection"), forced);
            // SIGTERM alone ended the hung daemon: its shutdown aborts and exits without waiting for the stuck read
            assertTrue(forced.contains("stopped daemon pid " + daemonPid + " (SIGTERM)"), forced);
            assertTrue(read(log).contains("stopping a hung daemon"), read(log));
            assertFalse(Mounts.at(m.mnt).isPresent(), "the mount point is gone");
            assertFalse(ProcessHandle.of(daemonPid).map(ProcessHandle::isAlive).orElse(false), "the daemon has exited");
            assertTrue(reader.waitFor(30, TimeUnit.SECONDS), "the blocked reader returns once the connection is aborted");
            String readerOut = new String(reader.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertNotEquals(0, reader.exitValue(), readerOut);
            // fuse_abort_conn ends requests in flight with ECONNABORTED; later ones see ENOTCONN
            assertTrue(List.of("Software caused connection abort", "Transport endpoint is not connected",
                "Input/output error").stream().anyMatch(readerOut::contains), readerOut);
            assertTrue(ImageLock.isFree(m.image));
            assertTrue(DaemonState.find(m.mnt).isEmpty(), "no live daemon state is left");

            LiveMount.cliOk("fsck", m.image.toString());
            LiveMount.cliOk("mount", m.image.toString(), m.mnt.toString());
            assertArrayEquals(synced, Files.readAllBytes(m.mnt.resolve("synced")), "fsynced before the hang");
            assertEquals("0", m.ctl("inject/block_ino"), "knobs start afresh on a new mount");
            m.unmount();
            LiveMount.cliOk("fsck", m.image.toString());
        } finally {
            if (Mounts.at(m.mnt).isPresent()) {
                Main.run(new PrintWriter(new StringWriter(), true), "umount", "--force", m.mnt.toString());
            }
            if (reader != null && reader.isAlive()) {
                reader.destroyForcibly();
            }
        }
    }

    /** The hung FUSE worker's section of the watchdog's all-thread dump, or null before there is one. */
    private static String hungReport(String log) {
        Matcher mt = Pattern.compile("(?s)\"fuse-worker-\\d+\" #\\d+ daemon \\w+[^\\n]*<-- HUNG\\n.*?\\theld locks[^\\n]*\\n")
            .matcher(log);
        return mt.find() ? mt.group() : null;
    }

    private static double hungTasksTotal(String metrics) {
        Matcher mt = Pattern.compile("(?m)^iomapfs_hung_tasks_total\\S* (\\S+)$").matcher(metrics);
        assertTrue(mt.find(), metrics);
        return Double.parseDouble(mt.group(1));
    }

    /** Polls, with a bounded deadline, for something the daemon does on its own schedule (its checker's passes). */
    private static void awaitTrue(BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (!cond.getAsBoolean()) {
            assertTrue(System.currentTimeMillis() < deadline, what + ": not within " + DEADLINE_MS / 1000 + " s");
            Thread.sleep(100);
        }
    }

    /** Runs the CLI in this JVM and returns what it printed on stdout; it must exit 0. */
    private static String stdoutOf(String... args) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream old = System.out;
        StringWriter err = new StringWriter();
        int rc;
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            rc = Main.run(new PrintWriter(err, true), args);
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(0, rc, "iomapfs " + String.join(" ", args) + ": " + err + out);
        return out;
    }

    private static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f) : "";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static void write(Path f, byte[] data) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(data);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
