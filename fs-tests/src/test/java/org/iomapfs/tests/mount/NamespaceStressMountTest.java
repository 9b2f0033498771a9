package org.iomapfs.tests.mount;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 10's reproduction as a test: several writer processes (a shell each, running dd, rm, mv, ln, cmp, mkdir,
 * rmdir as their own processes), each in its own directory of a fresh mount, loop over: write 16 MiB and rm it
 * (the loop of the issue); write 8 MiB and mv it over an existing file (then cmp it); write 8 MiB, ln it, rm the
 * first name (cmp the link, rm it); and in a new directory, write 4 MiB, open it, rm it while open, close it
 * (the last close frees it), rmdir. Every removal meets a file the daemon is still writing back. Then umount, fsck clean, and after a
 * remount each writer's renamed file holds its pattern.
 *
 * <p>Once without and once with {@code --inject wb_delay_ms=20} (limited to each file's first 128 KiB by
 * {@code target_range}: the delay is per block, 20 ms over all 4096 blocks of a 16 MiB file would make one
 * writeback take 80 s). {@code -Dnsstress.writers} (4) and {@code -Dnsstress.iterations} (3) set the size.
 * A writer that makes no progress for {@code -Dnsstress.stall.s} (30) seconds fails the test: the daemon's
 * threads are dumped, the FUSE connection is aborted through fusectl, the mount detached and the daemon killed,
 * so a deadlock ends the test instead of hanging the build.
 */
class NamespaceStressMountTest {
    static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    static final String WRITER = String.join("\n",
            "set -e",
            "D=$1; P=$2; N=$3",
            "step() { echo \"$i $*\"; \"$@\"; }",
            "i=0",
            "mkdir \"$D\"",
            "step dd if=\"$P\" of=\"$D/b\" bs=1M count=8 status=none",
            "while [ \"$i\" -lt \"$N\" ]; do",
            "  step dd if=\"$P\" of=\"$D/a\" bs=1M count=16 status=none",
            "  step rm \"$D/a\"",
            "  step dd if=\"$P\" of=\"$D/c\" bs=1M count=8 status=none",
            "  step mv \"$D/c\" \"$D/b\"",
            "  step cmp -n 8388608 \"$P\" \"$D/b\"",
            "  step dd if=\"$P\" of=\"$D/l\" bs=1M count=8 status=none",
            "  step ln \"$D/l\" \"$D/l2\"",
            "  step rm \"$D/l\"",
            "  step cmp -n 8388608 \"$P\" \"$D/l2\"",
            "  step rm \"$D/l2\"",
            "  step mkdir \"$D/s\"",
            "  step dd if=\"$P\" of=\"$D/s/o\" bs=1M count=4 status=none",
            "  echo \"$i open, rm and last close of $D/s/o\"",
            "  exec 3<\"$D/s/o\"",
            "  rm \"$D/s/o\"",
            "  exec 3<&-",
            "  step rmdir \"$D/s\"",
            "  i=$((i + 1))",
            "done",
            "echo \"$i done\"");

    @ParameterizedTest(name = "wb_delay_ms={0}")
    @ValueSource(ints = {0, 20})
    void writersRemovingRenamingAndLinkingFilesUnderWritebackFinishAndFsckIsClean(int wbDelayMs) throws Exception {
        LiveMount.assumeFuse("NamespaceStressMountTest");
        int writers = Integer.getInteger("nsstress.writers", 4);
        int iterations = Integer.getInteger("nsstress.iterations", 3);
        long stallS = Long.getLong("nsstress.stall.s", 30);
        List<String> opts = new ArrayList<>(List.of("--cache-mb", "64"));
        if (wbDelayMs > 0) {
            opts.addAll(List.of("--inject", "wb_delay_ms=" + wbDelayMs, "--inject", "target_range=0-131072"));
        }
        List<byte[]> patterns = new ArrayList<>();
        List<Path> patternFiles = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            byte[] p = new byte[16 * MIB];
            new Random(w + 1).nextBytes(p);
            Path f = tmp.resolve("pattern" + w);
            Files.write(f, p);
            patterns.add(p);
            patternFiles.add(f);
        }
        System.out.println("NamespaceStressMountTest: " + writers + " writers x " + iterations + " iterations, mount options " + opts);
        try (LiveMount m = LiveMount.start(tmp, "2G", opts.toArray(String[]::new))) {
            long t0 = System.nanoTime();
            String stuck = runWriters(m, writers, iterations, stallS, patternFiles);
            if (stuck != null) {
                String dump = m.abort();
                System.out.println("NamespaceStressMountTest: daemon threads when it hung:\n" + dump);
                fail("wb_delay_ms=" + wbDelayMs + ": " + stuck + "\nthe daemon's threads that wait (full dump above):\n"
                        + waitingThreads(dump));
            }
            System.out.printf("NamespaceStressMountTest wb_delay_ms=%d: %d writers x %d iterations in %.1f s%n",
                    wbDelayMs, writers, iterations, (System.nanoTime() - t0) / 1e9);
            m.unmount();
            LiveMount.cliOk("fsck", m.image.toString());
            m.remount();
            for (int w = 0; w < writers; w++) {
                assertArrayEquals(Arrays.copyOf(patterns.get(w), 8 * MIB), Files.readAllBytes(m.mnt.resolve("w" + w).resolve("b")),
                        "w" + w + "/b after the remount: the file moved over it last");
                try (var names = Files.list(m.mnt.resolve("w" + w))) {
                    assertEquals(List.of("b"), names.map(p -> p.getFileName().toString()).sorted().toList(),
                            "w" + w + ": every removed name is gone");
                }
            }
            m.unmount();
            LiveMount.cliOk("fsck", m.image.toString());
        }
    }

    /**
     * Starts the writer shells and waits while any of them reports a step; returns null once all exited 0, or
     * what went wrong: a writer's failure, or which step each writer was in when none moved for {@code stallS}.
     */
    private static String runWriters(LiveMount m, int writers, int iterations, long stallS, List<Path> patterns)
            throws IOException, InterruptedException {
        AtomicLong lastStep = new AtomicLong(System.nanoTime());
        String[] last = new String[writers];
        StringBuilder[] outs = new StringBuilder[writers];
        List<Process> procs = new ArrayList<>();
        List<Thread> pumps = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int me = w;
            outs[w] = new StringBuilder();
            last[w] = "(started)";
            Process p = new ProcessBuilder("sh", "-c", WRITER, "writer" + w, m.mnt.resolve("w" + w).toString(),
                    patterns.get(w).toString(), Integer.toString(iterations)).redirectErrorStream(true).start();
            procs.add(p);
            Thread pump = new Thread(() -> {
                try (var r = p.inputReader(StandardCharsets.UTF_8)) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        synchronized (last) {
                            last[me] = line;
                            outs[me].append(line).append('\n');
                        }
                        lastStep.set(System.nanoTime());
                    }
                } catch (IOException ignored) {
                    // the process ended or was killed
                }
            }, "writer-pump-" + w);
            pump.setDaemon(true);
            pump.start();
            pumps.add(pump);
        }
        for (int w = 0; w < writers; w++) {
            Process p = procs.get(w);
            while (!p.waitFor(500, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                if (System.nanoTime() - lastStep.get() > stallS * 1_000_000_000L) {
                    StringBuilder sb = new StringBuilder("no writer finished a step for " + stallS + " s (deadlock?); last steps started:");
                    synchronized (last) {
                        for (int i = 0; i < writers; i++) {
                            sb.append("\n  writer ").append(i).append(": iteration ").append(last[i]);
                        }
                    }
                    for (Process q : procs) {
                        q.descendants().forEach(ProcessHandle::destroyForcibly);
                        q.destroyForcibly();
                    }
                    return sb.toString();
                }
            }
            pumps.get(w).join(10_000);
            if (p.exitValue() != 0) {
                for (Process q : procs) {
                    q.descendants().forEach(ProcessHandle::destroyForcibly);
                    q.destroyForcibly();
                }
                synchronized (last) {
                    return "writer " + w + " exited " + p.exitValue() + " at iteration " + last[w] + ":\n" + outs[w];
                }
            }
        }
        return null;
    }

    /** From a jstack dump, the threads parked in the engine (their first frames), to put in the failure message. */
    static String waitingThreads(String dump) {
        StringBuilder sb = new StringBuilder();
        for (String thread : dump.split("\n\n")) {
            if (!thread.contains("org.iomapfs.core") || thread.contains("java.lang.Thread.State: RUNNABLE")) {
                continue;
            }
            List<String> lines = Arrays.stream(thread.split("\n"))
                    .filter(l -> l.startsWith("\"") || l.contains("org.iomapfs.core") || l.contains("State:"))
                    .limit(12).toList();
            sb.append(String.join("\n", lines)).append('\n');
        }
        return sb.toString();
    }
}
