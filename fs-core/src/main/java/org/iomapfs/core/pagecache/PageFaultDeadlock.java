package org.iomapfs.core.pagecache;

/**
 * A page fault needed a folio lock that the faulting thread already holds: the wait could never end (the
 * kernel would hang, or BUG on a recursive gfs2 glock), so the model reports it at once.
 */
public final class PageFaultDeadlock extends RuntimeException {
    public PageFaultDeadlock(String message) {
        super(message, null, false, false);
    }
}
