package org.iomapfs.core.namespace;

import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.hooks.Hooks;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The dentry cache in front of path lookup: what invalidates it, and that a hit takes no namespace lock. */
class DentryCacheTest {
    @TempDir
    Path dir;
    IomapFs fs;

    @BeforeEach
    void mount() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 16 << 20, 4096, true);
        fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(1 << 20).withWritebackIntervalMs(0));
    }

    @AfterEach
    void close() {
        fs.close();
    }

    private void touch(String path) {
        fs.release(fs.create(path, 0644, OpenFlags.O_RDWR, 0, 0));
    }

    private void assertGone(String path) {
        assertEquals(Errno.ENOENT, assertThrows(FsException.class, () -> fs.inode(path), path).errno(), path);
    }

    @Test
    void renameOfADirectoryInvalidatesEveryCachedPathUnderIt() {
        fs.mkdir("/a", 0755, 0, 0);
        fs.mkdir("/a/b", 0755, 0, 0);
        touch("/a/b/f");
        Inode b = fs.inode("/a/b");
        Inode f = fs.inode("/a/b/f");
        assertSame(f, fs.inode("/a/b/f"), "second lookup is served from the cache");

        fs.rename("/a", "/z");
        assertGone("/a/b/f");
        assertGone("/a/b");
        assertSame(f, fs.inode("/z/b/f"));
        assertSame(b, fs.inode("/z/b"));

        // a directory renamed back: the old paths lead to the same inodes again, the interim ones nowhere
        fs.rename("/z", "/a");
        assertSame(f, fs.inode("/a/b/f"));
        assertGone("/z/b/f");
    }

    @Test
    void renameOverACachedNameLeadsToTheNewInode() {
        touch("/old");
        touch("/new");
        Inode moving = fs.inode("/new");
        fs.inode("/old");
        fs.rename("/new", "/old");
        assertSame(moving, fs.inode("/old"));
        assertGone("/new");
    }

    @Test
    void unlinkThenCreateOfTheSameNameFindsTheNewInode() {
        touch("/f");
        Inode first = fs.inode("/f");
        fs.unlink("/f");
        assertGone("/f");
        touch("/f");
        Inode second = fs.inode("/f");
        assertNotSame(first, second);
        assertNotEquals(first.ino, second.ino);
    }

    @Test
    void rmdirThenMkdirOfTheSameNameFindsTheNewDirectory() {
        fs.mkdir("/d", 0755, 0, 0);
        Inode first = fs.inode("/d");
        fs.rmdir("/d");
        assertGone("/d");
        fs.mkdir("/d", 0755, 0, 0);
        assertNotSame(first, fs.inode("/d"));
    }

    @Test
    void failedLookupIsNotCachedSoALaterCreateIsSeen() {
        assertGone("/late");
        touch("/late");
        assertNotNull(fs.inode("/late"));
    }

    /**
     * A walk that finished before a rename but is cached after it: its entry carries the sequence of the walk,
     * so it never serves the old path. Caching it under the sequence current at insertion would.
     */
    @Test
    void walkOverlappingARenameIsNotServedAfterIt() throws Exception {
        fs.mkdir("/d", 0755, 0, 0);
        touch("/d/f");
        CountDownLatch walked = new CountDownLatch(1);
        CountDownLatch renamed = new CountDownLatch(1);
        Hooks.Hook hold = fs.context().hooks.add(HookPoint.DCACHE_FILL, (point, inode, seq) -> {
            if (Thread.currentThread().getName().equals("lookup")) {
                walked.countDown();
                await(renamed);
            }
        });
        CompletableFuture<Inode> lookup = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                lookup.complete(fs.inode("/d/f"));
            } catch (Throwable e) {
                lookup.completeExceptionally(e);
            }
        }, "lookup");
        t.start();
        try {
            assertTrue(walked.await(30, TimeUnit.SECONDS), "lookup walked /d/f");
            fs.rename("/d", "/e");
        } finally {
            renamed.countDown();
        }
        Inode f = lookup.get(30, TimeUnit.SECONDS);
        t.join();
        fs.context().hooks.remove(HookPoint.DCACHE_FILL, hold);
        assertGone("/d/f");
        assertSame(f, fs.inode("/e/f"));
    }

    /** A cached path resolves while another thread holds the namespace lock exclusively (open holds it). */
    @Test
    void cachedLookupTakesNoNamespaceLock() throws Exception {
        fs.mkdir("/d", 0755, 0, 0);
        touch("/d/f");
        touch("/other");
        Inode f = fs.inode("/d/f");
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Hooks.Hook hold = fs.context().hooks.add(HookPoint.DCACHE_FILL, (point, inode, seq) -> {
            if (Thread.currentThread().getName().equals("opener")) {
                holding.countDown();
                await(done);
            }
        });
        CompletableFuture<Long> open = new CompletableFuture<>();
        Thread opener = new Thread(() -> {
            try {
                open.complete(fs.open("/other", OpenFlags.O_RDONLY));
            } catch (Throwable e) {
                open.completeExceptionally(e);
            }
        }, "opener");
        opener.start();
        try {
            assertTrue(holding.await(30, TimeUnit.SECONDS), "open resolved /other under the namespace lock");
            CompletableFuture<Inode> hit = CompletableFuture.supplyAsync(() -> fs.inode("/d/f"));
            assertSame(f, hit.get(30, TimeUnit.SECONDS), "a cached lookup does not wait for the namespace lock");
        } finally {
            done.countDown();
        }
        fs.release(open.get(30, TimeUnit.SECONDS));
        opener.join();
        fs.context().hooks.remove(HookPoint.DCACHE_FILL, hold);
    }

    private static void await(CountDownLatch l) {
        try {
            if (!l.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
