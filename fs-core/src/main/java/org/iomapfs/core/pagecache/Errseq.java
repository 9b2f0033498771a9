package org.iomapfs.core.pagecache;

/**
 * errseq_t (lib/errseq.c): a writeback error with a sequence number and a "seen" flag. Each open file samples
 * it at open and reports a newer error exactly once at fsync, so every fd learns of every error once.
 */
public final class Errseq {
    private long seq;
    private int err;
    private boolean seen;

    /** mapping_set_error / errseq_set: records an error (positive errno). */
    public synchronized void set(int errno) {
        if (errno == 0) {
            return;
        }
        if (seen || err != errno || seq == 0) {
            seq++;
            seen = false;
        }
        err = errno;
    }

    /** errseq_sample: the cookie a new opener starts from; an error nobody has seen is still reported. */
    public synchronized long sample() {
        return seen ? seq : (err == 0 ? seq : seq - 1);
    }

    /** errseq_check_and_advance: returns the errno to report (0 if none) and the cookie to keep in {@code since[0]}. */
    public synchronized int checkAndAdvance(long[] since) {
        if (seq == since[0]) {
            return 0;
        }
        seen = true;
        since[0] = seq;
        return err;
    }
}
