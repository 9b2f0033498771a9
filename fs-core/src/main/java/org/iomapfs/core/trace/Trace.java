package org.iomapfs.core.trace;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;

/**
 * A bounded ring of recent engine events, like the kernel's iomap and xfs tracepoints read from
 * {@code trace_pipe}: enough to explain a corruption after the fact (which map was used, whether it was found
 * stale, when writeback, completion and reclaim touched the folio). Old events are overwritten.
 */
public final class Trace {
    /** Event kinds, after the tracepoints they stand for. */
    public enum Event {
        IOMAP_BEGIN, IOMAP_VALID, IOMAP_STALE, IOMAP_END, WRITE_BEGIN, PUNCH, TRUNCATE_PAGECACHE, WB_MAP,
        WB_SUBMIT, WB_COMPLETE, WB_ERROR, RECLAIM, MKWRITE, DIO, BUG
    }

    /**
     * One event; {@code detail} is free text such as the iomap type and its cookie, or a {@link Supplier} of it,
     * which is only called when the trace is read: hot paths pay for a capture, not for formatting.
     */
    public record Entry(long seq, long nanos, String thread, Event event, long ino, long pos, long len, Object detail) {
        @Override
        public String toString() {
            Object d = detail instanceof Supplier<?> s ? s.get() : detail;
            return String.format("%8d %12.6f %-22s %-18s ino=%d pos=%d len=%d %s", seq, nanos / 1e9, thread, event,
                    ino, pos, len, d);
        }
    }

    private final AtomicReferenceArray<Entry> ring;
    private final AtomicLong next = new AtomicLong();
    private final long t0 = System.nanoTime();

    public Trace(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("trace capacity must be positive: " + capacity);
        }
        ring = new AtomicReferenceArray<>(capacity);
    }

    public void emit(Event event, long ino, long pos, long len, String detail) {
        put(event, ino, pos, len, detail);
    }

    /** As {@link #emit(Event, long, long, long, String)}, with the detail built only when the trace is read. */
    public void emit(Event event, long ino, long pos, long len, Supplier<String> detail) {
        put(event, ino, pos, len, detail);
    }

    private void put(Event event, long ino, long pos, long len, Object detail) {
        long seq = next.getAndIncrement();
        ring.set((int) (seq % ring.length()),
                new Entry(seq, System.nanoTime() - t0, Thread.currentThread().getName(), event, ino, pos, len, detail));
    }

    /** The retained events, oldest first, one per line. */
    public String dump() {
        long end = next.get();
        StringBuilder sb = new StringBuilder();
        for (long s = Math.max(0, end - ring.length()); s < end; s++) {
            Entry e = ring.get((int) (s % ring.length()));
            if (e != null && e.seq() == s) {
                sb.append(e).append('\n');
            }
        }
        return sb.toString();
    }

    public void clear() {
        for (int i = 0; i < ring.length(); i++) {
            ring.set(i, null);
        }
    }
}
