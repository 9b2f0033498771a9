package org.iomapfs.core.uio;

import java.nio.ByteBuffer;

/**
 * A heap buffer as the iov_iter of a read(2) or write(2) (ITER_KVEC: always present, never faults), one per
 * thread and reused, as the kernel's lives on the caller's stack: the hot paths allocate none per call. A
 * nested use on the same thread (none is expected: copying from or to a heap buffer enters no file system)
 * gets a fresh one.
 */
public final class KvecIter implements IovIter {
    private static final ThreadLocal<KvecIter> PER_THREAD = ThreadLocal.withInitial(KvecIter::new);

    private ByteBuffer b;
    private int base;
    private int count;
    private boolean inUse;

    /** The bytes of {@code buf} from its position to its limit; hand back with {@link #release}. */
    public static KvecIter acquire(ByteBuffer buf) {
        KvecIter it = PER_THREAD.get();
        if (it.inUse) {
            it = new KvecIter();
        }
        return it.over(buf);
    }

    /** A fresh one over {@code buf}, not from the per-thread pool (no release needed). */
    static KvecIter wrap(ByteBuffer buf) {
        return new KvecIter().over(buf);
    }

    private KvecIter over(ByteBuffer buf) {
        b = buf;
        base = buf.position();
        count = buf.remaining();
        inUse = true;
        return this;
    }

    public void release() {
        inUse = false;
        b = null;
    }

    @Override
    public int count() { return count; }

    @Override
    public int copyFromUser(int off, byte[] dst, int dstOff, int n, boolean nofault) {
        b.get(base + off, dst, dstOff, n);
        return n;
    }

    @Override
    public void copyToUser(int off, byte[] src, int srcOff, int n) {
        b.put(base + off, src, srcOff, n);
    }

    @Override
    public int faultInReadable(int off, int n) { return 0; }
}
