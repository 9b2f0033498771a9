package org.iomapfs.core.bugs;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.EnumMap;
import java.util.Map;

/**
 * Which bugs are on (buggy) for operations that start from now on, and how often each buggy branch actually did
 * its harmful thing ("bug fired"). Fixed is the default.
 */
public final class BugSwitches {
    // one bit per Bug ordinal: switches are read on every write step and writeback block, by every thread, so a
    // read is one volatile load; the rare changes are serialised
    private volatile int buggyMask;
    private final Map<Bug, Counter> fired = new EnumMap<>(Bug.class);

    public BugSwitches(MeterRegistry registry) {
        for (Bug b : Bug.values()) {
            fired.put(b, Counter.builder("iomapfs.bug.fired").tag("bug", b.id)
                    .description("times the buggy branch did the harmful thing").register(registry));
        }
    }

    public boolean buggy(Bug b) { return (buggyMask & (1 << b.ordinal())) != 0; }

    public synchronized void set(Bug b, boolean on) {
        buggyMask = on ? buggyMask | (1 << b.ordinal()) : buggyMask & ~(1 << b.ordinal());
    }

    public synchronized void setAll(boolean on) {
        buggyMask = on ? (1 << Bug.values().length) - 1 : 0;
    }

    public void fired(Bug b) { fired.get(b).increment(); }

    public long firedCount(Bug b) { return (long) fired.get(b).count(); }
}
