package org.iomapfs.core.explore;

import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.pagecache.Folio;

/** Hook points in the words of docs/bugs.md ("writeback maps block 9", "reclaim evicts folio 9"); blocks in file blocks. */
final class Steps {
    private Steps() { }

    static String describe(Object kind, long pos, int blockSize) {
        long folio = pos / Folio.PAGE_SIZE;
        long block = pos / blockSize;
        if (!(kind instanceof HookPoint p)) {
            return kind + " at " + pos;
        }
        return switch (p) {
            case READ_BEGIN -> "read starts at folio " + folio;
            case WRITE_AFTER_BEGIN -> "write gets its iomap at " + pos + " from ->iomap_begin and caches it";
            case WRITE_BEGIN_VALIDATED -> "write locks folio " + folio + " under its cached iomap";
            case WRITE_BEFORE_END -> "write calls ->iomap_end at " + pos;
            case MKWRITE_DIRTIED -> "page fault dirties folio " + folio + " (page_mkwrite)";
            case WB_MAPPED -> "writeback maps block " + block;
            case WB_SUBMITTED -> "writeback submits the I/O at block " + block;
            case IOEND_CONVERTED -> "completion converts block " + block + " to written";
            case IOEND_DONE -> "completion ends writeback on folio " + folio;
            case RECLAIM_EVICTED -> "reclaim evicts folio " + folio;
            case DIO_INVALIDATED -> "direct I/O invalidates the cache from folio " + folio;
            case DIO_PAGES_PINNED -> "direct read pins its destination pages";
            case DCACHE_FILL -> "lookup caches a walked path (rename sequence " + pos + ")";
        };
    }
}
