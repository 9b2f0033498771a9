package org.iomapfs.core.pagecache;

import java.util.BitSet;

/**
 * Per-block uptodate and dirty bits of a folio whose blocks are smaller than the folio, as
 * {@code struct iomap_folio_state} (fs/iomap/buffered-io.c). Guarded by the owning folio's monitor.
 */
public final class FolioState {
    final int nblocks;
    final BitSet uptodate;
    final BitSet dirty;

    FolioState(int nblocks) {
        this.nblocks = nblocks;
        this.uptodate = new BitSet(nblocks);
        this.dirty = new BitSet(nblocks);
    }
}
