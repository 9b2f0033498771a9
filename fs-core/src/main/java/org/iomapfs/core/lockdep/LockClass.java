package org.iomapfs.core.lockdep;

/**
 * A lock class (struct lock_class_key): every lock, monitor or wait of one kind shares it, whichever instance
 * is taken, so one observed order between two classes stands for all their instances. Classes are few (at
 * most 64 per {@link LockGraph}) and created once.
 */
public final class LockClass {
    final int id;
    final String name;
    final LockGraph graph;

    LockClass(LockGraph graph, int id, String name) {
        this.graph = graph;
        this.id = id;
        this.name = name;
    }

    public String name() { return name; }

    /** Records that the current thread takes a lock of this class (lock_acquire); blocks on nothing. */
    public void acquire() {
        if (LockGraph.AVAILABLE && graph.on) {
            graph.acquire(this);
        }
    }

    /** Records a successful trylock: held from now on, but a trylock cannot wait, so it adds no dependency. */
    public void acquiredTry() {
        if (LockGraph.AVAILABLE && graph.on) {
            graph.push(this);
        }
    }

    /** Records the release of the most recently taken lock of this class by the current thread. */
    public void release() {
        if (LockGraph.AVAILABLE && graph.on) {
            graph.release(this);
        }
    }

    /**
     * Records a wait for something that a holder of this class ends (folio writeback, an ioend): the wait depends
     * on every class held now, as if the class were taken and dropped at once (lock_map_acquire/release).
     */
    public void waitFor() {
        if (LockGraph.AVAILABLE && graph.on) {
            graph.waitFor(this, null);
        }
    }

    /** Like {@link #waitFor()}, except that holding {@code nested} adds no dependency (the waiter's own folio). */
    public void waitForExcept(LockClass nested) {
        if (LockGraph.AVAILABLE && graph.on) {
            graph.waitFor(this, nested);
        }
    }

    @Override
    public String toString() { return name; }
}
