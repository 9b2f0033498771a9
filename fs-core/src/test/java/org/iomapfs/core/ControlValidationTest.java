package org.iomapfs.core;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.store.Mkfs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The switches and injection knobs as the control directory sees them: an unknown name is ENOENT, a value out
 * of range or malformed is EINVAL with a message naming the key, and neither changes any control.
 */
class ControlValidationTest {
    @TempDir
    Path dir;
    IomapFs fs;

    @BeforeEach
    void open() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 64L << 20, 4096, true);
        fs = IomapFs.open(img, EngineConfig.defaults().withWritebackIntervalMs(0));
        // a state that differs from the defaults, so a reset would show too
        fs.controls().write("bugs/stale-iomap", "buggy");
        fs.controls().write("inject/write_delay_ms", "7");
        fs.controls().write("inject/copyin_fail", "0.25");
        fs.controls().write("inject/target_range", "4096-8192");
    }

    @AfterEach
    void close() {
        fs.close();
    }

    /** Every readable control except the event-driven ones, by key. */
    private Map<String, String> snapshot() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String k : fs.controls().keys()) {
            if (!k.equals("metrics") && !k.equals("trace")) {
                m.put(k, fs.controls().read(k));
            }
        }
        return m;
    }

    @ParameterizedTest(name = "{0} = ''{1}''")
    @CsvSource(delimiter = '|', value = {
        "mode|buggyy", "mode|''", "mode|1",
        "bugs/stale-iomap|on", "bugs/fault-in-deadlock|FIXED ",
        "inject/write_delay_ms|-1", "inject/write_delay_ms|60001", "inject/write_delay_ms|1.5",
        "inject/wb_delay_ms|lots", "inject/copyin_fail|1.01", "inject/copyin_fail|-0.1", "inject/copyin_fail|NaN",
        "inject/copyin_bytes|-3", "inject/wb_submit_eio|2", "inject/wb_complete_eio|x",
        "inject/seed|0x10", "inject/target_ino|-1", "inject/target_range|9-3", "inject/target_range|5",
        "inject/nth|-2", "inject/cache_bytes|4095", "inject/reclaim_every_ms|60001", "cache_bytes|-5",
        "max_folio_order|7", "max_folio_order|-1", "max_folio_order|two",
        "inject/block_ino|-1", "inject/block_ino|ino5",
        "drop_caches|2", "sync|yes", "trace|reset", "invalidate|some", "invalidate|''", "profile|nope",
        "profile|PUNCH-DELALLOC",
    })
    void badValueIsEinvalAndChangesNothing(String key, String value) {
        Map<String, String> before = snapshot();
        FsException e = assertThrows(FsException.class, () -> fs.controls().write(key, value));
        assertEquals(Errno.EINVAL, e.errno(), e.toString());
        String name = key.substring(key.lastIndexOf('/') + 1);
        assertTrue(e.getMessage().contains(name), "the message names the control: " + e.getMessage());
        assertEquals(before, snapshot());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"bugs/stale_iomap|buggy", "bugs/no-such-bug|fixed",
        "inject/write_delay|5", "inject/|1", "modes|fixed", "inject/copyin_fail/x|0"})
    void unknownNameIsEnoentAndChangesNothing(String key, String value) {
        Map<String, String> before = snapshot();
        FsException e = assertThrows(FsException.class, () -> fs.controls().write(key, value));
        assertEquals(Errno.ENOENT, e.errno(), e.toString());
        assertEquals(before, snapshot());
        FsException r = assertThrows(FsException.class, () -> fs.controls().read(key));
        assertEquals(Errno.ENOENT, r.errno(), r.toString());
    }

    @Test
    void invalidationModesHandOutWhatTheyName() {
        List<String> got = new CopyOnWriteArrayList<>();
        fs.setCacheInvalidation((ino, off, len, cause) -> got.add(cause + " " + off + "+" + len));
        assertEquals("losses\n", fs.controls().read("invalidate"), "the default");
        long fh = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(fh, 0, ByteBuffer.wrap(new byte[8192]));
        fs.fsync(fh, false);
        assertEquals(List.of(), got, "losses: a write and its writeback that lost nothing hand out nothing");

        // a failed copy-in (the first only) with the old truncate+punch: the engine truncated its own cache
        fs.controls().write("bugs/punch-truncates-pagecache", "buggy");
        fs.controls().write("inject/write_delay_ms", "0");
        fs.controls().write("inject/copyin_fail", "1");
        fs.controls().write("inject/copyin_bytes", "0");
        fs.controls().write("inject/target_range", "all");
        fs.controls().write("inject/nth", "1");
        fs.write(fh, 16384, ByteBuffer.wrap(new byte[4096]));
        assertEquals(List.of("ENGINE_TRUNCATE 16384+4096"), got);
        fs.controls().write("inject/copyin_fail", "0");

        got.clear();
        fs.controls().write("invalidate", "all");
        fs.write(fh, 8192, ByteBuffer.wrap(new byte[4096]));
        fs.fsync(fh, false);
        assertTrue(got.stream().anyMatch(r -> r.startsWith("WRITEBACK_DONE ")), got.toString());

        got.clear();
        fs.controls().write("invalidate", "off");
        fs.write(fh, 8192, ByteBuffer.wrap(new byte[4096]));
        fs.fsync(fh, false);
        assertEquals(List.of(), got, "off");
        fs.release(fh);
    }

    @Test
    void profileSetsItsKnobsAndNoneResetsThem() {
        fs.controls().write("profile", "punch-delalloc");
        assertEquals("punch-delalloc\n", fs.controls().read("profile"));
        assertEquals("0.5\n", fs.controls().read("inject/copyin_fail"));
        assertEquals("0\n", fs.controls().read("inject/copyin_bytes"));
        assertEquals("2\n", fs.controls().read("inject/write_delay_ms"));
        assertEquals("buggy\n", fs.controls().read("bugs/stale-iomap"), "a profile sets no bug switch");
        fs.controls().write("profile", "none");
        assertEquals("0.0\n", fs.controls().read("inject/copyin_fail"));
        assertEquals("0\n", fs.controls().read("inject/write_delay_ms"));
    }

    @Test
    void metricsIsReadOnly() {
        Map<String, String> before = snapshot();
        FsException e = assertThrows(FsException.class, () -> fs.controls().write("metrics", "0"));
        assertEquals(Errno.EACCES, e.errno());
        assertEquals(before, snapshot());
    }

    @Test
    void goodValuesReadBackAndModeSetsEverySwitch() {
        fs.controls().write("inject/copyin_bytes", "random");
        assertEquals("random\n", fs.controls().read("inject/copyin_bytes"));
        fs.controls().write("inject/target_range", "all");
        assertEquals("all\n", fs.controls().read("inject/target_range"));
        assertEquals("mixed\n", fs.controls().read("mode"));
        fs.controls().write("mode", "buggy");
        for (String k : fs.controls().keys()) {
            if (k.startsWith("bugs/")) {
                assertEquals("buggy\n", fs.controls().read(k), k);
            }
        }
        fs.controls().write("bugs/punch-truncates-pagecache", " fixed\n");
        assertEquals("fixed\n", fs.controls().read("bugs/punch-truncates-pagecache"));
        assertEquals("mixed\n", fs.controls().read("mode"));
    }
}
