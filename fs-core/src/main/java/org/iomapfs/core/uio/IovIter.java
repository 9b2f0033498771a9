package org.iomapfs.core.uio;

import java.nio.ByteBuffer;

/**
 * A caller's buffer for read(2)/write(2)/direct I/O (struct iov_iter): heap memory that is always present, or
 * a {@link org.iomapfs.core.mm.MappedRegion} whose pages may have to be faulted in. Offsets are relative to the
 * start of the buffer.
 */
public interface IovIter {
    /** Bytes in the buffer. */
    int count();

    /**
     * copy_page_from_iter / copy_page_from_iter_atomic: copies up to {@code n} bytes at {@code off} into
     * {@code dst}. With {@code nofault} (pagefault_disable) the copy stops at the first page that is not
     * present and returns what it copied; otherwise a missing page is faulted in on the spot.
     */
    int copyFromUser(int off, byte[] dst, int dstOff, int n, boolean nofault);

    /** copy_page_to_iter (faults allowed): stores {@code n} bytes at {@code off}. */
    void copyToUser(int off, byte[] src, int srcOff, int n);

    /** fault_in_iov_iter_readable: faults [off, off + n) in for reading; returns the bytes it could not. */
    int faultInReadable(int off, int n);

    /** A heap buffer: the bytes from its position to its limit. */
    static IovIter of(ByteBuffer b) {
        return KvecIter.wrap(b);
    }
}
