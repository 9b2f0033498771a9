package org.iomapfs.tests;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.bugs.Bug;
import org.iomapfs.core.extent.ExtentType;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/**
 * xfs/559's race (regression test for 304a68b9c63b), forced with a latch instead of write_delay_ms: preallocate
 * 10 pages, dirty the last byte, start a pwrite of 9 pages + 1 byte that stops right after ->iomap_begin
 * cached one UNWRITTEN mapping for the whole range; meanwhile write back the last folio (I/O completion
 * converts its block to written) and evict it; then let the write go on. With the validity check (fixed) the
 * cached map is found stale and re-mapped, and the last folio is read from disk. Without it (buggy) the new
 * folio is zeroed from the stale UNWRITTEN map and the last byte is lost.
 */
class StaleIomapTest {
    static final int PAGE = 4096;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "buggy={0}")
    @ValueSource(booleans = {false, true})
    void writeRacingWithWritebackAndReclaimOfItsLastFolio(boolean buggy) throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 16L << 20, 4096, false);
        IomapFs fs = IomapFs.open(img, EngineConfig.defaults().withWritebackIntervalMs(0));
        try {
            long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
            fs.fallocate(fh, 0, 0, 10 * PAGE);
            fs.write(fh, 10 * PAGE - 1, ByteBuffer.wrap(new byte[]{0x5a}));
            fs.controls().write("bugs/stale-iomap", buggy ? "buggy" : "fixed");
            Inode in = fs.inodeOf(fh);

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
                    fs.write(fh, 0, ByteBuffer.wrap(data));
                } catch (Throwable t) {
                    failed.set(t);
                }
            }, "slow-pwrite");
            writer.start();
            assertTrue(atBegin.await(30, TimeUnit.SECONDS), "write never reached iomap_begin");

            // sync_file_range + madvise(DONTNEED) on the last page, while the write holds its cached map.
            fs.writeback().writeAndWait(in, 9 * PAGE, 10 * PAGE - 1);
            in.dataFork.ilock.readLock().lock();
            try {
                assertEquals(ExtentType.WRITTEN, in.dataFork.find(9).type(), "completion converted before writeback ended");
            } finally {
                in.dataFork.ilock.readLock().unlock();
            }
            fs.context().cache.dropClean();
            assertNull(in.mapping.find(9), "the last folio was reclaimed");

            go.countDown();
            writer.join(30_000);
            assertFalse(writer.isAlive());
            assertNull(failed.get());

            byte[] want = new byte[10 * PAGE];
            System.arraycopy(data, 0, want, 0, data.length);
            want[10 * PAGE - 1] = 0x5a;
            fs.fsync(fh, false);
            fs.dropCaches();
            ByteBuffer got = ByteBuffer.allocate(10 * PAGE);
            assertEquals(10 * PAGE, fs.read(fh, 0, got));
            long fired = fs.context().bugs.firedCount(Bug.STALE_IOMAP);
            double stale = fs.context().metrics.staleMaps.count();
            System.out.printf("stale-iomap buggy=%s: last byte 0x%02x (want 0x5a), bug fired %d, stale maps detected %.0f%n",
                    buggy, got.get(10 * PAGE - 1), fired, stale);
            if (buggy) {
                assertEquals(0, got.get(10 * PAGE - 1), "the stale UNWRITTEN map zeroed the last byte");
                got.put(10 * PAGE - 1, (byte) 0x5a);
                assertArrayEquals(want, got.array(), "nothing else was damaged");
                assertTrue(fired > 0, "bug-fired counter");
            } else {
                assertArrayEquals(want, got.array());
                assertEquals(0, fired);
                assertTrue(stale > 0, "the stale map was detected");
            }
        } finally {
            fs.close();
        }
    }
}
