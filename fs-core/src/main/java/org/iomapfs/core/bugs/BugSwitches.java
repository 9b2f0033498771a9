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
    private final Map<Bug, Boolean> buggy = new EnumMap<>(Bug.class);
    private final Map<Bug, Counter> fired = new EnumMap<>(Bug.class);

    public BugSwitches(MeterRegistry registry) {
        for (Bug b : Bug.values()) {
            buggy.put(b, false);
            fired.put(b, Counter.builder("iomapfs.bug.fired").tag("bug", b.id)
                    .description("times the buggy branch did the harmful thing").register(registry));
        }
    }

    public synchronized boolean buggy(Bug b) { return buggy.get(b); }

    public synchronized void set(Bug b, boolean on) { buggy.put(b, on); }

    public synchronized void setAll(boolean on) {
        buggy.replaceAll((b, v) -> on);
    }

    public void fired(Bug b) { fired.get(b).increment(); }

    public long firedCount(Bug b) { return (long) fired.get(b).count(); }
}
