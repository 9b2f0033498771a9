package org.iomapfs.core.bugs;

/**
 * Historical bugs that can be switched back on, catalogued with their fix sites in docs/design.md section 2. Each
 * is read only at the site of its upstream fix, which carries a comment naming the fix; docs/bugs.md tells the story.
 */
public enum Bug {
    /** d7b64041164c "iomap: write iomap validity checks" / 304a68b9c63b "xfs: use iomap_valid method to detect stale cached iomaps". */
    STALE_IOMAP("stale-iomap"),
    /** 118e021b4b66 "xfs: write page faults in iomap are not buffered writes". */
    MKWRITE_USES_WRITE_OPS("mkwrite-uses-write-ops"),
    /**
     * 198dd8aedee6 "xfs: punching delalloc extents on write failure is racy" and f43dc4dc3eff "iomap: buffered
     * write failure should not truncate the page cache".
     */
    PUNCH_TRUNCATES_PAGECACHE("punch-truncates-pagecache"),
    /** e9c3a8e820ed "iomap: don't invalidate folios after writeback errors" (the root of Wilcox's 2020 report). */
    MKWRITE_NOT_UPTODATE("mkwrite-not-uptodate"),
    /**
     * Jan Kara's 2018 GUP race: reclaim skipping maybe-pinned folios (FOLL_PIN tracking, 3faa52c03f44 and the
     * vmscan users of folio_maybe_dma_pinned) and "iomap: Permit pages without an iop to enter writeback".
     */
    GUP_DIRTY_WITHOUT_STATE("gup-dirty-without-state"),
    /** 00bfe02f4796 "gfs2: Fix mmap + page fault deadlocks for buffered I/O". */
    FAULT_IN_DEADLOCK("fault-in-deadlock");

    public final String id;

    Bug(String id) { this.id = id; }

    public static Bug byId(String id) {
        for (Bug b : values()) {
            if (b.id.equals(id)) {
                return b;
            }
        }
        return null;
    }
}
