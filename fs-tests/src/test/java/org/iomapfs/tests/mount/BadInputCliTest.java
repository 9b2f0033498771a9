package org.iomapfs.tests.mount;

import org.iomapfs.fuse.Mounts;
import org.iomapfs.fuse.cli.Main;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bad input a new user met (issue 11): each case checks the one-line message, the exit status (2 for input
 * the command cannot use, 1 for a failure) and that the image and its {@code .meta} are byte for byte as before.
 */
class BadInputCliTest {
    @TempDir
    Path tmp;
    final StringWriter err = new StringWriter();

    @BeforeEach
    void reachableByOtherUids() throws IOException {
        // setpriv --reuid=65534 must reach the mount and the copied class path through the temporary directory
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    int cli(String... args) {
        err.getBuffer().setLength(0);
        return Main.run(new PrintWriter(err, true), args);
    }

    static String digest(Path p) throws Exception {
        if (!Files.exists(p)) {
            return "absent";
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    /** The image's and its metadata file's SHA-256 ("absent" for a missing file). */
    static String hashes(Path image) throws Exception {
        return digest(image) + " " + digest(image.resolveSibling(image.getFileName() + ".meta"));
    }

    record Proc(int rc, String out) { }

    /** Runs {@code cmd} and returns its status and merged output. */
    static Proc run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        return new Proc(p.exitValue(), out);
    }

    /** {@code java [jvmArgs] -cp CLASSPATH org.iomapfs.fuse.cli.Main args}: the CLI as its own process. */
    static List<String> cliProcess(String classPath, List<String> jvmArgs, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", classPath, Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test
    void mkfsWithAnUnsupportedBlockSizeNamesTheAcceptedSizes() throws Exception {
        Path img = tmp.resolve("img");
        assertEquals(2, cli("mkfs", img.toString(), "--size", "64M", "--block-size", "8192"));
        assertEquals("iomapfs mkfs: block size 8192 is not supported: it must be 512, 1024, 2048 or 4096",
            err.toString().strip());
        assertEquals("absent absent", hashes(img), "nothing created");
        // nor does it touch an existing image, even with --force
        assertEquals(0, cli("mkfs", img.toString(), "--size", "64M"));
        String before = hashes(img);
        assertEquals(2, cli("mkfs", img.toString(), "--size", "64M", "--block-size", "8192", "--force"));
        assertTrue(err.toString().contains("it must be 512, 1024, 2048 or 4096"), err.toString());
        assertEquals(2, cli("mkfs", img.toString(), "--size", "64M"));
        assertTrue(err.toString().contains("already exists (use --force to overwrite)"), err.toString());
        assertEquals(before, hashes(img));
    }

    @Test
    void fsckOfAFileThatIsNotAnImageExits2() throws Exception {
        Path junk = tmp.resolve("junk");
        byte[] b = new byte[1 << 16];
        new Random(11).nextBytes(b);
        Files.write(junk, b);
        String before = hashes(junk);
        assertEquals(2, cli("fsck", junk.toString()));
        assertEquals("iomapfs fsck: " + junk + ": not an iomapfs image (bad magic)", err.toString().strip());
        assertEquals(before, hashes(junk));
        assertEquals(2, cli("fsck", tmp.resolve("nosuch").toString()));
        assertTrue(err.toString().contains("does not exist"), err.toString());
    }

    @Test
    void fsckOfAnImageWithoutItsMetadataExits2AndCreatesNothing() throws Exception {
        Path img = tmp.resolve("img");
        assertEquals(0, cli("mkfs", img.toString(), "--size", "64M"));
        Files.delete(tmp.resolve("img.meta"));
        String before = hashes(img);
        assertEquals(2, cli("fsck", img.toString()));
        assertTrue(err.toString().contains(tmp.resolve("img.meta") + ": metadata file is missing"), err.toString());
        assertEquals(before, hashes(img));
        assertTrue(before.endsWith(" absent"));
    }

    @Test
    void mountOfAnImageWithoutItsMetadataChangesNothing() throws Exception {
        LiveMount.assumeFuse("mountOfAnImageWithoutItsMetadataChangesNothing");
        Path img = tmp.resolve("img");
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        assertEquals(0, cli("mkfs", img.toString(), "--size", "64M"));
        Files.delete(tmp.resolve("img.meta"));
        String before = hashes(img);
        assertEquals(2, cli("mount", img.toString(), mnt.toString()));
        assertEquals("iomapfs mount: cannot open image " + img + ": " + tmp.resolve("img.meta")
            + ": metadata file is missing (mkfs writes it beside the image; the image cannot be used without it)",
            err.toString().strip());
        assertFalse(Mounts.at(mnt).isPresent());
        assertEquals(before, hashes(img), "the failed mount created no .meta and changed no byte of the image");
    }

    @Test
    void mountWithAnUnknownAtimeModeExits2AndNamesTheModes() throws Exception {
        Path img = tmp.resolve("img");
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        assertEquals(0, cli("mkfs", img.toString(), "--size", "64M"));
        assertEquals(2, cli("mount", img.toString(), mnt.toString(), "--atime", "lazytime"));
        assertEquals("iomapfs mount: --atime: bad atime mode 'lazytime' (relatime, strictatime or noatime)",
            err.toString().strip());
        assertFalse(Mounts.at(mnt).isPresent());
    }

    /**
     * libfuse is loaded by name through jnr-ffi's loader, as always; {@code -Diomapfs.libfuse} names a library that
     * does not exist, which is what that loader meets on a machine without libfuse2.
     */
    @Test
    void mountWithoutLibfuseNamesTheLibraryAndItsPackage() throws Exception {
        Path img = tmp.resolve("img");
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        assertEquals(0, cli("mkfs", img.toString(), "--size", "64M"));
        String before = hashes(img);
        List<String> absent = List.of("-Diomapfs.libfuse=libfuse-absent.so.2");
        Proc p = run(cliProcess(System.getProperty("java.class.path"), absent, "mount", img.toString(), mnt.toString()));
        assertEquals(1, p.rc(), p.out());
        assertEquals("iomapfs mount: cannot load libfuse-absent.so.2 (libfuse 2.9), which iomapfs mounts through:"
            + " install it with 'apt-get install -y libfuse2' (Debian/Ubuntu package libfuse2)"
            + " [libfuse-absent.so.2: cannot open shared object file: No such file or directory]", p.out().strip());
        assertFalse(Mounts.at(mnt).isPresent());
        assertEquals(before, hashes(img));
    }

    @Test
    void ctlWithABadValueNamesTheAcceptedValues() throws Exception {
        LiveMount.assumeFuse("ctlWithABadValueNamesTheAcceptedValues");
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            assertEquals(0, cli("ctl", m.mnt.toString(), "sync=1"));
            String before = hashes(m.image);
            assertEquals(2, cli("ctl", m.mnt.toString(), "mode=banana"));
            assertEquals("iomapfs ctl: cannot set mode=banana: mode takes buggy or fixed, not 'banana'", err.toString().strip());
            assertEquals("fixed", m.ctl("mode"));
            // the same reason for a shell: the file holds the latest refused write's message
            Proc sh = run(List.of("bash", "-c", "echo cherry > " + m.mnt.resolve(".iomapfs/bugs/stale-iomap")
                + "; cat " + m.mnt.resolve(".iomapfs/last_error")));
            assertTrue(sh.out().contains("Invalid argument"), sh.out());
            assertTrue(sh.out().contains("bugs/stale-iomap takes buggy or fixed, not 'cherry'"), sh.out());
            assertEquals(0, cli("ctl", m.mnt.toString(), "sync=1"));
            assertEquals(before, hashes(m.image));
        }
    }

    @Test
    void ctlByAnotherUidSaysOnlyTheOwnerMayChangeControls() throws Exception {
        LiveMount.assumeFuse("ctlByAnotherUidSaysOnlyTheOwnerMayChangeControls");
        Path mountDir = Files.createDirectories(tmp.resolve("m"));
        Files.setPosixFilePermissions(mountDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (LiveMount m = LiveMount.start(mountDir, "64M")) {
            assertEquals(0, cli("ctl", m.mnt.toString(), "sync=1"));
            String before = hashes(m.image);
            List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
            cmd.addAll(cliProcess(classPathReadableByAll(), List.of(), "ctl", m.mnt.toString(), "mode=buggy"));
            Proc p = run(cmd);
            assertEquals(1, p.rc(), p.out());
            assertEquals("iomapfs ctl: cannot set mode=buggy: permission denied: only the mount's owner may change"
                + " controls (owner uid 0)", p.out().strip());
            assertEquals("fixed", m.ctl("mode"));
            assertEquals(0, cli("ctl", m.mnt.toString(), "sync=1"));
            assertEquals(before, hashes(m.image));
        }
    }

    /** This JVM's class path with its jars copied where another uid can read them (the local repository may not be). */
    String classPathReadableByAll() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("cp"));
        List<String> out = new ArrayList<>();
        int i = 0;
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(e);
            if (Files.isRegularFile(p)) {
                Path copy = dir.resolve((i++) + "-" + p.getFileName());
                Files.copy(p, copy, StandardCopyOption.REPLACE_EXISTING);
                Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
                out.add(copy.toString());
            } else {
                out.add(e);
            }
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return String.join(File.pathSeparator, out);
    }
}
