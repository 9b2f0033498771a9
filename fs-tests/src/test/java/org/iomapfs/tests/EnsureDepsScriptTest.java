package org.iomapfs.tests;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * scripts/ensure-deps.sh, which ./iomapfs and ./run-tests source, against a fake apt-get on PATH: a failed
 * update or install stops with a message naming the step, and a lock held by another apt process is waited for.
 */
class EnsureDepsScriptTest {
    /** The fake apt-get: logs its arguments; FAKE_LOCKED update calls find the lists lock taken, then as told. */
    static final String FAKE_APT_GET = """
        #!/bin/bash
        echo "$*" >> "$FAKE_LOG"
        case " $* " in
          *" update "*)
            n=$(grep -c ' update' "$FAKE_LOG")
            if [ "$n" -le "${FAKE_LOCKED:-0}" ]; then
              echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 42 (apt-get)" >&2
              echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
              exit 100
            fi
            if [ -n "${FAKE_UPDATE_FAILS:-}" ]; then
              echo "E: Failed to fetch http://deb.example/dists/bookworm/InRelease  Temporary failure resolving" >&2
              exit 100
            fi ;;
          *" install "*)
            if [ -n "${FAKE_INSTALL_FAILS:-}" ]; then
              echo "E: Unable to locate package libfuse2" >&2
              exit 100
            fi ;;
        esac
        exit 0
        """;

    @TempDir
    Path tmp;
    Path root;
    Path fakeBin;
    Path log;

    @BeforeEach
    void fakes() throws IOException {
        root = Path.of(System.getProperty("user.dir")).getParent();
        assertTrue(Files.isRegularFile(root.resolve("scripts/ensure-deps.sh")), root.toString());
        fakeBin = Files.createDirectories(tmp.resolve("bin"));
        log = tmp.resolve("apt.log");
        Files.createFile(log);
        script(fakeBin.resolve("apt-get"), FAKE_APT_GET);
    }

    static void script(Path p, String text) throws IOException {
        Files.writeString(p, text);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    record Result(int rc, String out) { }

    /** Runs bash with {@code command} (the fake bin first on PATH) and returns its status and merged output. */
    Result bash(String command, Map<String, String> env, String path) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/bash", "-c", command).directory(root.toFile()).redirectErrorStream(true);
        pb.environment().put("PATH", path);
        pb.environment().put("FAKE_LOG", log.toString());
        pb.environment().put("IOMAPFS_APT_RETRY_S", "0");
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), command + " did not finish");
        return new Result(p.exitValue(), out);
    }

    Result install(Map<String, String> env) throws Exception {
        return bash(". scripts/ensure-deps.sh && iomapfs_install iomapfs libfuse2 fuse", env,
            fakeBin + ":" + System.getenv("PATH"));
    }

    List<String> aptCalls() throws IOException {
        return Files.readAllLines(log);
    }

    @Test
    void aFailedUpdateStopsBeforeTheInstallWithItsReason() throws Exception {
        Result r = install(Map.of("FAKE_UPDATE_FAILS", "1"));
        assertEquals(1, r.rc(), r.out());
        assertTrue(r.out().contains("E: Failed to fetch"), r.out());
        assertTrue(r.out().contains("iomapfs: 'apt-get update' failed (above), so libfuse2 fuse cannot be installed"), r.out());
        assertEquals(1, aptCalls().size(), aptCalls().toString());
    }

    @Test
    void aLockHeldByAnotherAptIsWaitedFor() throws Exception {
        Result r = install(Map.of("FAKE_LOCKED", "2"));
        assertEquals(0, r.rc(), r.out());
        assertTrue(r.out().contains("iomapfs: another apt process holds its lock; waiting up to 600 s"), r.out());
        List<String> calls = aptCalls();
        assertEquals(4, calls.size(), calls.toString());
        assertTrue(calls.subList(0, 3).stream().allMatch(c -> c.equals("-o DPkg::Lock::Timeout=600 update -qq")), calls.toString());
        assertEquals("-o DPkg::Lock::Timeout=600 install -y -qq libfuse2 fuse", calls.get(3));
    }

    @Test
    void aLockHeldLongerThanTheWaitFailsTheUpdate() throws Exception {
        Result r = install(Map.of("FAKE_LOCKED", "1000", "IOMAPFS_APT_LOCK_WAIT_S", "3", "IOMAPFS_APT_RETRY_S", "1"));
        assertEquals(1, r.rc(), r.out());
        assertTrue(r.out().contains("Could not get lock /var/lib/apt/lists/lock"), r.out());
        assertTrue(r.out().contains("'apt-get update' failed (above)"), r.out());
        assertFalse(aptCalls().stream().anyMatch(c -> c.contains("install")), aptCalls().toString());
    }

    @Test
    void aFailedInstallSaysSo() throws Exception {
        Result r = install(Map.of("FAKE_INSTALL_FAILS", "1"));
        assertEquals(1, r.rc(), r.out());
        assertTrue(r.out().contains("E: Unable to locate package libfuse2"), r.out());
        assertTrue(r.out().endsWith("iomapfs: 'apt-get install -y libfuse2 fuse' failed (above)\n"), r.out());
    }

    @Test
    void aNonRootUserIsToldWhatToInstall() throws Exception {
        script(fakeBin.resolve("id"), "#!/bin/sh\necho 1000\n");
        Result r = install(Map.of());
        assertEquals(1, r.rc(), r.out());
        assertEquals("iomapfs: missing libfuse2 fuse; run as root once, or install them: apt-get install -y libfuse2 fuse\n", r.out());
        assertEquals(List.of(), aptCalls());
    }

    /**
     * Both scripts as a user runs them, on a PATH without java, mvn or fusermount and with an apt-get whose update
     * fails: each stops right there with the reason, rather than going on to fail at `mvn: not found`.
     */
    @Test
    void theLauncherAndRunTestsStopAtAFailedUpdate() throws Exception {
        Path bare = Files.createDirectories(tmp.resolve("bare"));
        script(bare.resolve("id"), "#!/bin/sh\necho 0\n"); // root, whoever runs the test
        for (String tool : List.of("bash", "env", "dirname", "readlink", "ls", "grep", "sleep", "cat")) {
            for (String dir : List.of("/usr/bin", "/bin")) {
                if (Files.isExecutable(Path.of(dir, tool)) && !Files.exists(bare.resolve(tool))) {
                    Files.createSymbolicLink(bare.resolve(tool), Path.of(dir, tool));
                }
            }
        }
        Files.copy(fakeBin.resolve("apt-get"), bare.resolve("apt-get"));
        for (String cmd : List.of("./run-tests -q", "./iomapfs --help")) {
            Files.writeString(log, "");
            String who = cmd.startsWith("./run-tests") ? "run-tests" : "iomapfs";
            Result r = bash(cmd, Map.of("FAKE_UPDATE_FAILS", "1"), bare.toString());
            assertEquals(1, r.rc(), cmd + ": " + r.out());
            assertTrue(r.out().startsWith(who + ": installing openjdk-17-jdk-headless maven"), cmd + ": " + r.out());
            assertTrue(r.out().contains(who + ": 'apt-get update' failed (above), so openjdk-17-jdk-headless maven"), r.out());
            assertFalse(r.out().contains("not found"), r.out());
            assertEquals(1, aptCalls().size(), aptCalls().toString());
        }
    }
}
