package org.iomapfs.core.trace;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A bounded ring of recent engine events, like the kernel's iomap and xfs tracepoints read from
 * {@code trace_pipe}: enough to explain a corruption after the fact (which map was used, whether it was found
 * stale, when writeback, completion and reclaim touched the folio). Old events are overwritten.
 *
 * <p>The ring is preallocated slots of primitive fields, as the kernel's ring buffer reserves fixed-size
 * entries: recording an event stores a few words and allocates nothing. Details are kept as given (a constant
 * string, a {@link Described} object with one word of its state, or a {@link Supplier}) and turned into text
 * only when the trace is read. With {@link #setEnabled} off, an event costs one volatile read.
 */
public final class Trace {
    /** Event kinds, after the tracepoints they stand for. */
    public enum Event {
        IOMAP_BEGIN, IOMAP_VALID, IOMAP_STALE, IOMAP_END, WRITE_BEGIN, PUNCH, TRUNCATE_PAGECACHE, WB_MAP,
        WB_SUBMIT, WB_COMPLETE, WB_ERROR, RECLAIM, MKWRITE, DIO, BUG
    }

    /** A detail that formats itself from its state and one word captured when the event was recorded. */
    public interface Described {
        String describe(long aux);
    }

    /** {@code aux} of an event that has none. */
    public static final long NO_AUX = Long.MIN_VALUE;
    private static final Event[] EVENTS = Event.values();
    private static final VarHandle SEQ = MethodHandles.arrayElementVarHandle(long[].class);

    private final int capacity;
    /** Per slot: the sequence number of the event it holds, plus one (0: empty), published last. */
    private final long[] seq;
    private final long[] nanos;
    private final long[] ino;
    private final long[] pos;
    private final long[] len;
    private final long[] aux;
    private final byte[] event;
    private final String[] thread;
    private final Object[] detail;
    private final AtomicLong next = new AtomicLong();
    private final long t0 = System.nanoTime();
    private volatile boolean enabled = true;

    public Trace(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("trace capacity must be positive: " + capacity);
        }
        this.capacity = capacity;
        seq = new long[capacity];
        nanos = new long[capacity];
        ino = new long[capacity];
        pos = new long[capacity];
        len = new long[capacity];
        aux = new long[capacity];
        event = new byte[capacity];
        thread = new String[capacity];
        detail = new Object[capacity];
    }

    /** Turns recording on or off (what is recorded stays readable). */
    public void setEnabled(boolean on) { enabled = on; }

    public boolean enabled() { return enabled; }

    public void emit(Event event, long ino, long pos, long len, String detail) {
        if (enabled) {
            put(event, ino, pos, len, detail, NO_AUX);
        }
    }

    /** As {@link #emit(Event, long, long, long, String)}, with the detail built only when the trace is read. */
    public void emit(Event event, long ino, long pos, long len, Supplier<String> detail) {
        if (enabled) {
            put(event, ino, pos, len, detail, NO_AUX);
        }
    }

    /**
     * An event whose detail is {@code detail} as it stands at read time, with {@code aux} the word of it that
     * may change meanwhile ({@link Described#describe}), or a sequence number printed after it.
     */
    public void emit(Event event, long ino, long pos, long len, Object detail, long aux) {
        if (enabled) {
            put(event, ino, pos, len, detail, aux);
        }
    }

    private void put(Event ev, long i, long p, long l, Object d, long a) {
        long s = next.getAndIncrement();
        int slot = (int) (s % capacity);
        SEQ.setRelease(seq, slot, 0L);
        VarHandle.storeStoreFence();
        nanos[slot] = System.nanoTime() - t0;
        thread[slot] = Thread.currentThread().getName();
        event[slot] = (byte) ev.ordinal();
        ino[slot] = i;
        pos[slot] = p;
        len[slot] = l;
        aux[slot] = a;
        detail[slot] = d;
        SEQ.setRelease(seq, slot, s + 1);
    }

    /** The retained events, oldest first, one per line. */
    public String dump() {
        long end = next.get();
        StringBuilder sb = new StringBuilder();
        for (long s = Math.max(0, end - capacity); s < end; s++) {
            int slot = (int) (s % capacity);
            if ((long) SEQ.getAcquire(seq, slot) != s + 1) {
                continue;
            }
            long n = nanos[slot];
            String th = thread[slot];
            Event ev = EVENTS[event[slot]];
            long i = ino[slot];
            long p = pos[slot];
            long l = len[slot];
            long a = aux[slot];
            Object d = detail[slot];
            VarHandle.acquireFence();
            if ((long) SEQ.getAcquire(seq, slot) != s + 1) {
                continue; // overwritten while being read
            }
            sb.append(String.format("%8d %12.6f %-22s %-18s ino=%d pos=%d len=%d %s", s, n / 1e9, th, ev, i, p, l,
                    text(d, a))).append('\n');
        }
        return sb.toString();
    }

    private static String text(Object d, long a) {
        if (d instanceof Described x) {
            return x.describe(a);
        }
        Object v = d instanceof Supplier<?> sup ? sup.get() : d;
        return a == NO_AUX ? String.valueOf(v) : v + " seq=" + a;
    }

    public void clear() {
        for (int i = 0; i < capacity; i++) {
            SEQ.setRelease(seq, i, 0L);
            detail[i] = null;
        }
    }
}
