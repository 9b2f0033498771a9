package org.iomapfs.core.sched;

/**
 * Picks who runs at a decision: a switch point where more than one thread could run. {@code current} is the
 * thread that reached the point ({@code -1} if it can no longer run: blocked or finished), {@code enabled} the
 * ids that could run, ascending. A choice other than {@code current} while current could go on is a
 * preemption.
 */
public interface Strategy {
    int pick(int decision, int current, int[] enabled);

    /** The non-preemptive default: go on with the current thread, else the lowest-numbered one that can run. */
    static int byDefault(int current, int[] enabled) {
        return current >= 0 ? current : enabled[0];
    }

    /** Called once before each run. */
    default void startRun() { }
}
