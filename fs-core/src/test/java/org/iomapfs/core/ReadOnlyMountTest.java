package org.iomapfs.core;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.config.AtimePolicy;
import org.iomapfs.core.config.AtimePolicy.Mode;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.store.Mkfs;
import org.iomapfs.core.store.MvMetaStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A read-only mount (fstests generic/003's "ro,strictatime", generic/452's remount ro): every change fails with
 * EROFS, no access moves atime, and the image and its metadata file keep their bytes, orphans included; a
 * read-write mount remounted read-only commits what it had first.
 */
class ReadOnlyMountTest {
    @TempDir
    Path dir;
    Path img;
    IomapFs fs;

    @BeforeEach
    void format() {
        img = dir.resolve("img");
        Mkfs.format(img, 64 << 20, 4096, true);
    }

    @AfterEach
    void close() {
        if (fs != null) {
            fs.close();
        }
    }

    private IomapFs mount(boolean ro) {
        if (fs != null) {
            fs.close();
        }
        fs = IomapFs.open(img, EngineConfig.defaults().withWritebackIntervalMs(0)
            .withAtime(new AtimePolicy(Mode.STRICTATIME, false)).withReadOnly(ro));
        return fs;
    }

    private static String sha256(Path p) throws IOException, NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(p)) {
            md.update(in.readAllBytes());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void assertErofs(String what, Executable call) {
        FsException e = assertThrows(FsException.class, call, what);
        assertEquals(Errno.EROFS, e.errno(), what);
    }

    @Test
    void readOnlyMountRefusesChangesWithErofsAndLeavesTheImageBytes() throws Exception {
        mount(false);
        fs.mkdir("/d", 0755, 0, 0);
        long fh = fs.create("/d/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap("kept\n".getBytes()));
        fs.release(fh);
        long orphan = fs.create("/orphan", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(orphan, 0, ByteBuffer.wrap("unlinked while open\n".getBytes()));
        fs.unlink("/orphan");
        fs.sync();
        fs.crashForTest(); // the orphan stays in the committed metadata for the next mount to free
        fs = null;
        String image = sha256(img);
        String meta = sha256(MvMetaStore.metaPath(img));

        mount(true);
        long atime = fs.getattr("/d/f").atimeNs();
        long dirAtime = fs.getattr("/d").atimeNs();
        Thread.sleep(2); // clock granularity: an update would show as a different time
        long r = fs.open("/d/f", OpenFlags.O_RDONLY);
        ByteBuffer got = ByteBuffer.allocate(64);
        int n = fs.read(r, 0, got);
        fs.release(r);
        assertEquals("kept\n", new String(got.array(), 0, n), "the data reads back");
        fs.readdir("/d");
        assertEquals(atime, fs.getattr("/d/f").atimeNs(), "no atime update on a read-only mount (strictatime)");
        assertEquals(dirAtime, fs.getattr("/d").atimeNs(), "no directory atime update on a read-only mount");

        assertErofs("open for writing", () -> fs.open("/d/f", OpenFlags.O_WRONLY));
        assertErofs("open with O_TRUNC", () -> fs.open("/d/f", OpenFlags.O_RDONLY | OpenFlags.O_TRUNC));
        assertErofs("create", () -> fs.create("/d/g", 0644, OpenFlags.O_RDWR, 0, 0));
        assertErofs("mkdir", () -> fs.mkdir("/e", 0755, 0, 0));
        assertErofs("unlink", () -> fs.unlink("/d/f"));
        assertErofs("rename", () -> fs.rename("/d/f", "/d/h"));
        assertErofs("truncate", () -> fs.truncate("/d/f", 0));
        assertErofs("chmod", () -> fs.chmod("/d/f", 0600));
        assertErofs("utimens", () -> fs.utimens("/d/f", 0, 0));
        assertErofs("setxattr", () -> fs.setxattr("/d/f", "user.x", new byte[] {1}, 0));
        long ro = fs.open("/d/f", OpenFlags.O_RDONLY);
        assertErofs("write", () -> fs.write(ro, 0, ByteBuffer.wrap(new byte[] {1})));
        fs.fsync(ro, false);
        fs.release(ro);
        fs.sync();
        assertErofs("remount read-write", () -> fs.setReadOnly(false));
        fs.close();
        fs = null;

        assertEquals(image, sha256(img), "the read-only mount left the image's bytes");
        assertEquals(meta, sha256(MvMetaStore.metaPath(img)), "the read-only mount left the metadata file's bytes");
    }

    @Test
    void remountReadOnlyCommitsFirstThenRefusesChanges() {
        mount(false);
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap("before the remount\n".getBytes()));
        assertEquals("rw,strictatime\n", fs.controls().read("mount"), "the control key shows the mount's options");
        fs.setReadOnly(true);
        assertTrue(fs.readOnly());
        assertEquals("ro,strictatime\n", fs.controls().read("mount"), "the control key shows the remount");
        assertErofs("write after the remount", () -> fs.write(fh, 0, ByteBuffer.wrap(new byte[] {1})));
        fs.release(fh);
        fs.crashForTest(); // nothing after the remount may be needed to keep the data
        fs = null;
        mount(true);
        assertEquals(19, fs.getattr("/f").size(), "the remount wrote back and committed the write before it");
        mount(false);
        fs.setReadOnly(true);
        fs.setReadOnly(false);
        fs.release(fs.create("/g", 0644, OpenFlags.O_RDWR, 0, 0));
        assertEquals(0, fs.getattr("/g").size(), "remounted read-write, the mount takes changes again");
    }
}
