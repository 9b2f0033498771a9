package org.iomapfs.fuse;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code /.iomapfs/last_error}: the engine's message of a failed control write, per caller, then the latest. */
class ControlErrorsTest {
    /** One key, {@code mode}, that takes buggy or fixed, with the engine's message otherwise. */
    static final class ModeOnly implements Controls {
        String mode = "fixed";

        @Override public List<String> keys() { return List.of("mode", "metrics"); }

        @Override public boolean writable(String key) { return key.equals("mode"); }

        @Override public String read(String key) { return mode + "\n"; }

        @Override public void write(String key, String value) {
            if (!value.equals("buggy") && !value.equals("fixed")) {
                throw new FsException(Errno.EINVAL, "mode takes buggy or fixed, not '" + value + "'");
            }
            mode = value;
        }
    }

    final AtomicInteger pid = new AtomicInteger(100);
    final ModeOnly engine = new ModeOnly();
    final ControlErrors c = new ControlErrors(engine, pid::get);

    @Test
    void lastErrorIsAReadOnlyKeyBesideTheEngines() {
        assertEquals(List.of("mode", "metrics", "last_error"), c.keys());
        assertFalse(c.writable("last_error"));
        assertTrue(c.writable("mode"));
        assertEquals("", c.read("last_error"));
        assertEquals(Errno.EACCES, assertThrows(FsException.class, () -> c.write("last_error", "x")).errno());
    }

    @Test
    void aFailedWriteLeavesTheEnginesMessageForItsCaller() {
        FsException e = assertThrows(FsException.class, () -> c.write("mode", "banana"));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals("fixed\n", c.read("mode"));
        assertEquals("mode takes buggy or fixed, not 'banana'\n", c.read("last_error"));
        c.write("mode", "buggy");
        assertEquals("", c.read("last_error"), "a successful write clears the caller's error");
    }

    @Test
    void eachCallerReadsItsOwnErrorAndOthersTheLatestOutcome() {
        pid.set(1);
        assertThrows(FsException.class, () -> c.write("mode", "banana"));
        pid.set(2);
        assertThrows(FsException.class, () -> c.write("mode", "cherry"));
        pid.set(1);
        assertEquals("mode takes buggy or fixed, not 'banana'\n", c.read("last_error"), "its own, not the latest");
        pid.set(3); // a reader that wrote nothing: a shell's cat after its echo
        assertEquals("mode takes buggy or fixed, not 'cherry'\n", c.read("last_error"));
        pid.set(2);
        c.write("mode", "fixed");
        pid.set(3);
        assertEquals("", c.read("last_error"), "the latest write succeeded");
        pid.set(1);
        assertEquals("mode takes buggy or fixed, not 'banana'\n", c.read("last_error"));
    }

    @Test
    void callersAreForgottenOldestFirst() {
        pid.set(1);
        assertThrows(FsException.class, () -> c.write("mode", "banana"));
        for (int p = 2; p <= 65; p++) {
            pid.set(p);
            c.write("mode", "fixed");
        }
        pid.set(1);
        assertEquals("", c.read("last_error"), "caller 1 forgotten: it reads the latest outcome");
    }
}
