package org.iomapfs.core.lockdep;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Falloc;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine's observed dependencies all follow the order documented in {@link LockOrder}. */
class EngineLockOrderTest {
    @TempDir
    Path dir;

    @Test
    void everyDependencyTheEngineTakesFollowsTheDocumentedOrder() {
        assertTrue(LockOrder.LOCKDEP.isOn(), "the build runs every test with -D" + LockOrder.PROPERTY + "=true");
        Path img = dir.resolve("img");
        Mkfs.format(img, 64L << 20, 1024, true);
        try (IomapFs fs = IomapFs.open(img, EngineConfig.defaults().withCacheBytes(256 << 10).withWritebackIntervalMs(0))) {
            int rw = OpenFlags.O_RDWR;
            long a = fs.create("/a", 0644, rw, 0, 0);
            byte[] data = new byte[300_000];
            java.util.Arrays.fill(data, (byte) 7);
            fs.write(a, 1000, ByteBuffer.wrap(data));
            fs.fsync(a, false);
            fs.fallocate(a, Falloc.PUNCH_HOLE | Falloc.KEEP_SIZE, 8192, 20_000);
            fs.fallocate(a, Falloc.ZERO_RANGE | Falloc.KEEP_SIZE, 30_000, 10_000);
            fs.ftruncate(a, 50_000);
            fs.write(a, 60_000, ByteBuffer.wrap(data, 0, 5000));
            long d = fs.open("/a", rw | OpenFlags.O_DIRECT);
            fs.write(d, 4096, ByteBuffer.wrap(new byte[4096]));
            fs.read(d, 0, ByteBuffer.allocate(8192));
            fs.release(d);
            fs.write(a, 0, ByteBuffer.wrap(data));
            fs.writeback().writepages(fs.inode("/a"), 0, Long.MAX_VALUE, false);
            fs.unlink("/a");
            fs.release(a);
            long b = fs.create("/b", 0644, rw, 0, 0);
            fs.write(b, 0, ByteBuffer.wrap(data));
            fs.release(b);
            long c = fs.create("/c", 0644, rw, 0, 0);
            fs.write(c, 0, ByteBuffer.wrap(data));
            fs.release(c);
            fs.rename("/c", "/b");
            fs.mkdir("/d", 0755, 0, 0);
            long e = fs.create("/d/e", 0644, rw, 0, 0);
            fs.write(e, 0, ByteBuffer.wrap(data));
            fs.unlink("/d/e");
            fs.release(e);
            fs.rmdir("/d");
            fs.dropCaches();
            fs.sync();
        }
        List<String> against = new ArrayList<>();
        List<LockClass[]> deps = LockOrder.LOCKDEP.dependencies();
        for (LockClass[] e : deps) {
            int from = LockOrder.ORDER.indexOf(e[0]);
            int to = LockOrder.ORDER.indexOf(e[1]);
            if (from < 0 || to < 0 || from >= to) {
                against.add(e[0] + " -> " + e[1]);
            }
        }
        assertTrue(deps.size() >= 6, "the workload took the engine's locks nested: " + deps.size() + " dependencies");
        assertEquals(List.of(), against, "dependencies against LockOrder");
    }
}
