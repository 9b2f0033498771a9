package org.iomapfs.core.inode;

import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.config.AtimePolicy;
import org.iomapfs.core.config.AtimePolicy.Mode;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The mount's atime policy (fstests generic/003, generic/120): noatime never moves atime, strictatime moves it on
 * every access, relatime (RelatimeTest) only after a change; directories get atime from readdir (iterate_dir's
 * file_accessed) unless nodiratime. The waits of 2 ms are clock granularity: the two times compared must differ.
 */
class AtimePolicyTest {
    @TempDir
    Path dir;
    IomapFs fs;

    @BeforeEach
    void format() {
        Mkfs.format(dir.resolve("img"), 64 << 20, 4096, true);
    }

    @AfterEach
    void close() {
        if (fs != null) {
            fs.close();
        }
    }

    private void mount(AtimePolicy p) {
        if (fs != null) {
            fs.close();
        }
        fs = IomapFs.open(dir.resolve("img"), EngineConfig.defaults().withWritebackIntervalMs(0).withAtime(p));
    }

    private void writeFile(String path) {
        long fh = fs.create(path, 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap("data\n".getBytes()));
        fs.release(fh);
    }

    private void readFile(String path) {
        long fh = fs.open(path, OpenFlags.O_RDONLY);
        fs.read(fh, 0, ByteBuffer.allocate(64));
        fs.release(fh);
    }

    private long atime(String path) { return fs.getattr(path).atimeNs(); }

    @Test
    void noatimeLeavesAtimeOnOpenReadAndReaddir() throws InterruptedException {
        mount(new AtimePolicy(Mode.NOATIME, false));
        fs.mkdir("/d", 0755, 0, 0);
        writeFile("/d/f");
        long file = atime("/d/f");
        long d = atime("/d");
        Thread.sleep(2);
        readFile("/d/f");
        fs.readdir("/d");
        assertEquals(file, atime("/d/f"), "noatime: reading the file leaves its atime");
        assertEquals(d, atime("/d"), "noatime: listing the directory leaves its atime");
    }

    @Test
    void strictatimeMovesAtimeOnEveryAccessPersistently() throws InterruptedException {
        mount(new AtimePolicy(Mode.STRICTATIME, false));
        writeFile("/f");
        Thread.sleep(2);
        readFile("/f");
        long first = atime("/f");
        assertTrue(first > fs.getattr("/f").mtimeNs(), "the first read moved atime past mtime");
        Thread.sleep(2);
        readFile("/f");
        long second = atime("/f");
        assertTrue(second > first, "strictatime: a second read of the unchanged file moves atime again");
        mount(new AtimePolicy(Mode.STRICTATIME, false));
        assertEquals(second, atime("/f"), "the atime update was committed");
    }

    @Test
    void relatimeReaddirMovesDirectoryAtimeOnlyAfterAChange() throws InterruptedException {
        mount(AtimePolicy.DEFAULT);
        fs.mkdir("/d", 0755, 0, 0);
        Thread.sleep(2);
        writeFile("/d/f");
        assertTrue(atime("/d") < fs.getattr("/d").mtimeNs(), "the new entry left the directory's atime before mtime");
        fs.readdir("/d");
        long listed = atime("/d");
        assertTrue(listed > fs.getattr("/d").mtimeNs(), "readdir after the change moved atime past mtime");
        Thread.sleep(2);
        fs.readdir("/d");
        assertEquals(listed, atime("/d"), "relatime: listing the unchanged directory again keeps its atime");
        mount(AtimePolicy.DEFAULT);
        assertEquals(listed, atime("/d"), "the directory's atime update was committed");
    }

    @Test
    void nodiratimeStopsDirectoryUpdatesButNotFileUpdates() throws InterruptedException {
        mount(new AtimePolicy(Mode.STRICTATIME, true));
        fs.mkdir("/d", 0755, 0, 0);
        writeFile("/d/f");
        long d = atime("/d");
        long file = atime("/d/f");
        Thread.sleep(2);
        fs.readdir("/d");
        readFile("/d/f");
        assertEquals(d, atime("/d"), "nodiratime: readdir leaves the directory's atime");
        assertTrue(atime("/d/f") > file, "nodiratime: the file's atime still moves");
    }
}
