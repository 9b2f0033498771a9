package org.iomapfs.tests;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.DirEntry;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Clean close and reopen gives back the same tree and bytes; a SIGKILLed engine loses nothing fsync returned for. */
class PersistenceTest {
    @TempDir
    Path dir;

    /** path -> (type, size, mode, nlink, content or link target). */
    static Map<String, String> snapshot(IomapFs fs) {
        Map<String, String> out = new TreeMap<>();
        walk(fs, "/", out);
        return out;
    }

    private static void walk(IomapFs fs, String path, Map<String, String> out) {
        for (DirEntry e : fs.readdir(path)) {
            String p = (path.equals("/") ? "" : path) + "/" + e.name();
            FileAttr a = fs.getattr(p);
            String content = "";
            if (a.type() == FileType.REGULAR) {
                long fh = fs.open(p, OpenFlags.O_RDONLY);
                ByteBuffer bb = ByteBuffer.allocate((int) a.size());
                fs.read(fh, 0, bb);
                fs.release(fh);
                content = java.util.HexFormat.of().formatHex(sha().digest(bb.array()));
            } else if (a.type() == FileType.SYMLINK) {
                content = fs.readlink(p);
            }
            out.put(p, a.type() + " size=" + a.size() + " mode=" + Integer.toOctalString(a.mode()) + " nlink=" + a.nlink()
                    + " uid=" + a.uid() + " " + content);
            if (a.type() == FileType.DIRECTORY) {
                walk(fs, p, out);
            }
        }
    }

    private static java.security.MessageDigest sha() {
        try {
            return java.security.MessageDigest.getInstance("SHA-256");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void cleanCloseAndReopenGivesBackTheSameTreeAndBytes() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 64L << 20, 1024, false);
        IomapFs fs = IomapFs.open(img, EngineConfig.defaults());
        Random r = new Random(42);
        fs.mkdir("/a", 0750, 5, 6);
        fs.mkdir("/a/b", 0700, 0, 0);
        for (int i = 0; i < 20; i++) {
            long fh = fs.create("/a/" + (i % 2 == 0 ? "b/" : "") + "f" + i, 0640, OpenFlags.O_RDWR, i, i);
            byte[] data = new byte[r.nextInt(200_000)];
            r.nextBytes(data);
            fs.write(fh, r.nextInt(5000), ByteBuffer.wrap(data));
            if (i % 3 == 0) {
                fs.ftruncate(fh, r.nextInt(100_000));
            }
            fs.release(fh);
        }
        fs.link("/a/f1", "/a/hard");
        fs.symlink("/a/f3", "/sym", 0, 0);
        fs.rename("/a/f5", "/a/b/moved");
        fs.unlink("/a/f7");
        fs.chmod("/a/f9", 0600);
        Map<String, String> before = snapshot(fs);
        fs.close();
        IomapFs again = IomapFs.open(img, EngineConfig.defaults());
        try {
            assertEquals(before, snapshot(again));
        } finally {
            again.close();
        }
    }

    /** The child: writes and fsyncs files, says so, then keeps writing until killed. */
    public static void main(String[] args) throws Exception {
        IomapFs fs = IomapFs.open(Path.of(args[0]), EngineConfig.defaults().withWritebackIntervalMs(10));
        Random r = new Random(7);
        for (int i = 0; i < 5; i++) {
            long fh = fs.create("/synced" + i, 0644, OpenFlags.O_RDWR, 0, 0);
            byte[] data = new byte[100_000 + i];
            r.nextBytes(data);
            fs.write(fh, 0, ByteBuffer.wrap(data));
            fs.fsync(fh, false);
        }
        datasyncedFiles(fs, r);
        System.out.println("FSYNCED");
        System.out.flush();
        long fh = fs.create("/unsynced", 0644, OpenFlags.O_RDWR, 0, 0);
        for (long i = 0; ; i++) {
            byte[] data = new byte[65536];
            r.nextBytes(data);
            fs.write(fh, (i % 64) * 65536, ByteBuffer.wrap(data));
        }
    }

    /**
     * fdatasync after each kind of change it must keep: an overwrite of written blocks (only timestamps change:
     * no metadata commit), a size change inside a written block, and a write into unwritten blocks.
     */
    private static void datasyncedFiles(IomapFs fs, Random r) {
        long fh = fs.create("/overwritten", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap(new byte[65536]));
        fs.fsync(fh, false);
        fs.write(fh, 8192, ByteBuffer.wrap(datasyncBytes(r, 4096)));
        fs.fsync(fh, true);
        fh = fs.create("/extended", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap(datasyncBytes(r, 100)));
        fs.fsync(fh, false);
        fs.write(fh, 100, ByteBuffer.wrap(datasyncBytes(r, 100)));
        fs.fsync(fh, true);
        fh = fs.create("/converted", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.fallocate(fh, 0, 0, 65536);
        fs.fsync(fh, false);
        fs.write(fh, 12288, ByteBuffer.wrap(datasyncBytes(r, 4096)));
        fs.fsync(fh, true);
    }

    private static byte[] datasyncBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static void assertFileBytes(IomapFs fs, String path, long size, long at, byte[] want) {
        long fh = fs.open(path, OpenFlags.O_RDONLY);
        try {
            assertEquals(size, fs.fgetattr(fh).size(), path + " size");
            ByteBuffer bb = ByteBuffer.allocate(want.length);
            assertEquals(want.length, fs.read(fh, at, bb), path);
            assertArrayEquals(want, bb.array(), path);
        } finally {
            fs.release(fh);
        }
    }

    @Test
    void aKilledEngineKeepsWhatFsyncReturnedForAndFsckIsClean() throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 64L << 20, 4096, false);
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), PersistenceTest.class.getName(),
                img.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("FSYNCED", out.readLine());
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, p.exitValue(), "child was killed by SIGKILL");
        IomapFs fs = IomapFs.open(img, EngineConfig.defaults());
        try {
            Random r = new Random(7);
            for (int i = 0; i < 5; i++) {
                byte[] want = new byte[100_000 + i];
                r.nextBytes(want);
                long fh = fs.open("/synced" + i, OpenFlags.O_RDONLY);
                ByteBuffer bb = ByteBuffer.allocate(want.length + 10);
                assertEquals(want.length, fs.read(fh, 0, bb));
                assertArrayEquals(want, java.util.Arrays.copyOf(bb.array(), want.length), "/synced" + i);
                fs.release(fh);
            }
            assertFileBytes(fs, "/overwritten", 65536, 8192, datasyncBytes(r, 4096));
            byte[] first = datasyncBytes(r, 100);
            byte[] second = datasyncBytes(r, 100);
            byte[] both = java.util.Arrays.copyOf(first, 200);
            System.arraycopy(second, 0, both, 100, 100);
            assertFileBytes(fs, "/extended", 200, 0, both);
            assertFileBytes(fs, "/converted", 65536, 12288, datasyncBytes(r, 4096));
        } finally {
            fs.close();
        }
        var report = org.iomapfs.core.store.Fsck.check(img);
        assertTrue(report.problems().isEmpty(), "fsck: " + report.problems());
    }
}
