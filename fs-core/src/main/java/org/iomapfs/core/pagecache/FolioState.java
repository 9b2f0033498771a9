package org.iomapfs.core.pagecache;

/**
 * Per-block uptodate and dirty bits of a folio whose blocks are smaller than the folio, as
 * {@code struct iomap_folio_state} (fs/iomap/buffered-io.c), whose {@code state} is one bitmap of both. A folio
 * has at most 64 blocks ({@link AddressSpace#maxFolioOrder} bounds large folios by it), so each bitmap is one
 * long word. Guarded by the owning folio's monitor.
 */
public final class FolioState {
    final int nblocks;
    /** Bits 0..nblocks-1 all set. */
    final long all;
    long uptodate;
    long dirty;

    FolioState(int nblocks) {
        if (nblocks > Long.SIZE) {
            throw new IllegalArgumentException("more blocks per folio than one bitmap word holds: " + nblocks);
        }
        this.nblocks = nblocks;
        this.all = nblocks == Long.SIZE ? -1L : (1L << nblocks) - 1;
    }

    /** The bits of blocks [from, to). */
    static long range(int from, int to) {
        long upTo = to == Long.SIZE ? -1L : (1L << to) - 1;
        return upTo & (-1L << from);
    }

    static boolean test(long word, int block) {
        return (word & (1L << block)) != 0;
    }
}
