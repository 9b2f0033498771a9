package org.iomapfs.tests.mount;

import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.store.Mkfs;
import org.iomapfs.fuse.FuseMount;
import org.iomapfs.fuse.LoopKind;
import org.iomapfs.fuse.MountOptions;
import org.iomapfs.fuse.Native;
import org.iomapfs.fuse.Unmount;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's losses reach a plain read of a file the kernel keeps cached (FOPEN_KEEP_CACHE): xfs/559's
 * stale-iomap race (as {@code StaleIomapTest}, with a latch at WRITE_AFTER_BEGIN) on an engine mounted in this
 * JVM, its file first read through the mount so that the kernel holds all of it, then overwritten through the
 * mount by a write(2) whose last folio the buggy engine zeroes from a stale UNWRITTEN map. The kernel's copy of
 * that page still holds the old last byte; with {@code invalidate=losses} the daemon's FUSE_NOTIFY_INVAL_INODE
 * drops it and the next pread returns what the engine has (the loss), with {@code off} the kernel hides the
 * loss, and in fixed mode nothing is lost and nothing is sent.
 */
class KernelInvalidationMountTest {
    private static final int PAGE = 4096;

    @TempDir
    Path tmp;
    private FuseMount mount;
    private IomapFs fs;
    private Path mnt;

    @ParameterizedTest(name = "buggy={0} invalidate={1}")
    @CsvSource({"true,losses,0", "true,off,90", "false,losses,90"})
    void staleIomapLossIsSeenThroughTheKernelCacheOnlyWhenInvalidated(boolean buggy, String invalidate, int lastByte)
            throws Exception {
        LiveMount.assumeFuse("KernelInvalidationMountTest");
        Path img = tmp.resolve("img");
        mnt = tmp.resolve("mnt");
        Files.createDirectories(mnt);
        Mkfs.format(img, 64L << 20, 4096, false);
        fs = IomapFs.open(img, EngineConfig.defaults().withWritebackIntervalMs(0));
        mount = new FuseMount(fs, fs.controls(), Native.libc().getuid(), Native.libc().getgid());
        mount.mount(mnt, new MountOptions("iomapfs-inval", 4, LoopKind.POOL, 131072, false, false));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.isDirectory(mnt.resolve(".iomapfs"))) { // wait for the mount to answer
            assertTrue(System.nanoTime() < deadline, "mount did not come up");
            Thread.onSpinWait();
        }

        // 10 preallocated pages, the last byte dirty in the engine (its block still UNWRITTEN)
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.fallocate(fh, 0, 0, 10 * PAGE);
        fs.write(fh, 10 * PAGE - 1, ByteBuffer.wrap(new byte[] {0x5a}));
        Inode in = fs.inodeOf(fh);
        fs.controls().write("bugs/stale-iomap", buggy ? "buggy" : "fixed");
        fs.controls().write("invalidate", invalidate);

        try (FileChannel ch = FileChannel.open(mnt.resolve("f"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            assertEquals(0x5a, byteAt(ch, 10 * PAGE - 1), "the kernel reads and caches the whole file");

            CountDownLatch atBegin = new CountDownLatch(1);
            CountDownLatch go = new CountDownLatch(1);
            AtomicBoolean first = new AtomicBoolean(true);
            fs.context().hooks.add(HookPoint.WRITE_AFTER_BEGIN, (p, inode, pos) -> {
                if (inode == in && first.getAndSet(false)) {
                    atBegin.countDown();
                    try {
                        assertTrue(go.await(30, TimeUnit.SECONDS), "test never released the write");
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            byte[] data = new byte[9 * PAGE + 1];
            new Random(559).nextBytes(data);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                try {
                    ch.write(ByteBuffer.wrap(data), 0); // one WRITE request: 36865 bytes < max_write
                } catch (Throwable t) {
                    failed.set(t);
                }
            }, "pwrite-through-mount");
            writer.start();
            assertTrue(atBegin.await(30, TimeUnit.SECONDS), "the WRITE never reached iomap_begin");
            // while the write holds its cached UNWRITTEN map: write back and evict the last folio in the engine
            fs.writeback().writeAndWait(in, 9 * PAGE, 10 * PAGE - 1);
            fs.context().cache.dropClean();
            assertNull(in.mapping.find(9), "the engine's last folio was reclaimed");
            go.countDown();
            writer.join(30_000);
            assertFalse(writer.isAlive(), "write did not finish");
            assertNull(failed.get());

            assertTrue(mount.awaitInvalidations(30, TimeUnit.SECONDS), "notifications still pending");
            long fired = fs.context().bugs.firedCount(Bug.STALE_IOMAP);
            long[] counts = mount.invalidationCounts();
            int got = byteAt(ch, 10 * PAGE - 1);
            ByteBuffer engine = ByteBuffer.allocate(1);
            fs.read(fh, 10 * PAGE - 1, engine);
            System.out.printf("buggy=%s invalidate=%s: pread of the last byte 0x%02x, engine 0x%02x, fired %d,"
                + " queued %d sent %d not_cached %d failed %d%n", buggy, invalidate, got, engine.get(0), fired,
                counts[0], counts[1], counts[2], counts[3]);
            assertEquals(buggy ? 1 : 0, Long.signum(fired), "stale-iomap fired only in buggy mode");
            assertEquals(buggy ? 0 : 0x5a, engine.get(0), "what the engine holds");
            assertEquals(lastByte, got, "what a plain read through the kernel's cache returns");
            if (buggy && invalidate.equals("losses")) {
                assertTrue(counts[1] > 0, "a notification was sent");
            } else {
                assertEquals(0, counts[0], "nothing handed out");
            }
            assertEquals(0, counts[3], "no notification failed");
        } finally {
            fs.release(fh);
        }
    }

    private static int byteAt(FileChannel ch, long pos) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(1);
        assertEquals(1, ch.read(b, pos));
        return b.get(0) & 0xff;
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            String err = Unmount.unmount(mnt, true);
            assertNull(err);
            assertTrue(mount.awaitLoopEnd(20, TimeUnit.SECONDS), "request loop did not end after unmount");
            mount.teardown();
            fs.close();
        }
    }
}
