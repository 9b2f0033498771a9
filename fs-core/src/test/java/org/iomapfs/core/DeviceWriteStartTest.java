package org.iomapfs.core;

import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.mount.FsContext;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A writeback pass that someone waits for (fsync) starts the device write of what it wrote to the image every
 * 128 KiB, as iomap's bios go to the device as they are submitted; background writeback leaves that to the host.
 * Such a pass writes each ioend that can grow no more as it walks on, as iomap_add_to_ioend submits one once a
 * block does not continue it, rather than after the last folio.
 */
class DeviceWriteStartTest extends EngineOnImage {
    private static final int BLOCKS = 64;

    /** Writes BLOCKS scattered 4 KiB blocks (one in every 16 KiB) and returns the handle. */
    private long scatteredDirtyFile(FsContext ctx) {
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap(new byte[BLOCKS * 16384]));
        fs.fsync(fh, false);
        fs.dropCaches();
        for (int i = 0; i < BLOCKS; i++) {
            fs.write(fh, i * 16384L, ByteBuffer.wrap(EngineTest.pattern(4096, i + 1)));
        }
        assertEquals(BLOCKS, ctx.cache.dirtyFolios(), "one dirty 4 KiB folio each");
        return fh;
    }

    private static long starts(FsContext ctx) { return (long) ctx.metrics.deviceWriteStarts.count(); }

    @Test
    void fsyncStartsTheDeviceWriteEvery128KiBItWrote() {
        FsContext ctx = format().context();
        long fh = scatteredDirtyFile(ctx);
        long before = starts(ctx);
        fs.fsync(fh, true);
        assertEquals(BLOCKS * 4096 / (128 << 10), starts(ctx) - before, "two batches of 32 blocks");
        assertEquals(0, ctx.cache.dirtyFolios());
        fs.dropCaches();
        for (int i = 0; i < BLOCKS; i++) {
            assertArrayEquals(EngineTest.pattern(4096, i + 1), EngineTest.read(fs, fh, i * 16384L, 4096), "block " + i);
        }
    }

    @Test
    void fsyncWritesFinishedIoendsBeforeItMapsTheLastFolio() {
        FsContext ctx = format().context();
        long fh = scatteredDirtyFile(ctx);
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        ctx.hooks.add(HookPoint.WB_MAPPED, (p, in, pos) -> order.add("mapped " + pos));
        ctx.hooks.add(HookPoint.WB_SUBMITTED, (p, in, pos) -> order.add("submitted " + pos));
        fs.fsync(fh, true);
        String lastMapped = "mapped " + (BLOCKS - 1) * 16384L;
        assertEquals(2 * BLOCKS, order.size(), "each block mapped and its one-block ioend submitted: " + order);
        assertEquals(32, order.indexOf("submitted 0") - order.indexOf("mapped 0") - 1,
                "the first 32 ioends go once a 33rd has started (32 more blocks mapped)");
        assertTrue(order.indexOf("submitted " + 31 * 16384L) < order.indexOf(lastMapped),
                "the first batch is written before the last folio is mapped: " + order);
        assertEquals(0, ctx.cache.dirtyFolios());
        fs.dropCaches();
        for (int i = 0; i < BLOCKS; i++) {
            assertArrayEquals(EngineTest.pattern(4096, i + 1), EngineTest.read(fs, fh, i * 16384L, 4096), "block " + i);
        }
    }

    @Test
    void backgroundWritebackLeavesTheDeviceWriteToTheHost() {
        FsContext ctx = format().context();
        scatteredDirtyFile(ctx);
        long before = starts(ctx);
        fs.writeback().writebackAll(false);
        assertEquals(0, ctx.cache.dirtyFolios());
        assertEquals(before, starts(ctx));
    }
}
