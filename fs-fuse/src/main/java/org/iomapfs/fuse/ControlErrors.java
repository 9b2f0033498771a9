package org.iomapfs.fuse;

import org.iomapfs.core.api.Controls;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * The engine's controls plus a read-only key {@value #KEY} that tells why a control write failed. A FUSE write
 * returns only an errno ("Invalid argument"); the engine's message ("mode takes buggy or fixed, not 'banana'")
 * would otherwise end in the daemon. The caller is the thread id libfuse reports for the request
 * ({@code fuse_get_context()->pid}, the kernel's {@code current->pid}).
 *
 * <p>Reading {@value #KEY} gives the message of the caller's own last control write if that failed (empty if it
 * succeeded), so a program that writes and then reads from the same thread, as {@code iomapfs ctl} does, gets its
 * own error whatever other writers do. A caller that has written no control (a shell's {@code cat} after its
 * {@code echo}) gets the outcome of the latest control write of any caller: with several writers at once that
 * may be another writer's. Only the mount's owner can write controls, so every message is the owner's.
 */
final class ControlErrors implements Controls {
    /** The key, and so the file {@code /.iomapfs/last_error}. */
    static final String KEY = "last_error";
    /** Callers remembered; the oldest is forgotten first (a caller that long ago failed reads the latest outcome). */
    private static final int CALLERS = 64;

    private final Controls engine;
    private final IntSupplier caller;
    private final Map<Integer, String> byCaller = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, String> eldest) {
            return size() > CALLERS;
        }
    };
    private String latest = "";

    ControlErrors(Controls engine, IntSupplier caller) {
        this.engine = engine;
        this.caller = caller;
    }

    @Override
    public List<String> keys() {
        List<String> k = new ArrayList<>(engine.keys());
        k.add(KEY);
        return k;
    }

    @Override
    public boolean writable(String key) {
        return !key.equals(KEY) && engine.writable(key);
    }

    @Override
    public String read(String key) {
        if (!key.equals(KEY)) {
            return engine.read(key);
        }
        int pid = caller.getAsInt();
        synchronized (byCaller) {
            String own = byCaller.get(pid);
            String m = own != null ? own : latest;
            return m.isEmpty() ? "" : m + "\n";
        }
    }

    @Override
    public void write(String key, String value) {
        if (key.equals(KEY)) {
            throw new FsException(Errno.EACCES, KEY + " is read-only");
        }
        int pid = caller.getAsInt();
        try {
            engine.write(key, value);
        } catch (FsException e) {
            record(pid, e.getMessage() != null ? e.getMessage() : e.errno().name());
            throw e;
        }
        record(pid, "");
    }

    private void record(int pid, String message) {
        String oneLine = message.lines().findFirst().orElse("");
        synchronized (byCaller) {
            byCaller.put(pid, oneLine);
            latest = oneLine;
        }
    }
}
