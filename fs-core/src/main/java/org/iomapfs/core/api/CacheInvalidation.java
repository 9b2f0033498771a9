package org.iomapfs.core.api;

/**
 * Whoever caches the engine's file data in front of it (the kernel's page cache above a FUSE daemon) and must
 * drop a byte range that the engine changed behind its back: a buggy branch zeroed or dropped it, writeback of
 * it failed, the engine truncated its own page cache over it. The engine calls {@link #invalidate} from
 * whatever thread did it, possibly holding engine locks, so an implementation must not block or call back
 * into the engine: queue the range and act on it from a thread of its own.
 */
@FunctionalInterface
public interface CacheInvalidation {
    /** Why a range is handed out. */
    enum Cause {
        /** A buggy branch did its harmful thing on the range (the bug-fired counters count the same events). */
        BUG_FIRED,
        /** The engine truncated its own page cache over the range (the pre-6.2 failed-write cleanup). */
        ENGINE_TRUNCATE,
        /** Writeback of the range failed: what the engine keeps for it may not be on disk. */
        WRITEBACK_ERROR,
        /** The engine evicted a folio of an inode on which a bug had fired (or any, in {@link Mode#ALL}). */
        RECLAIM,
        /** Writeback of the range completed (only in {@link Mode#ALL}). */
        WRITEBACK_DONE
    }

    /** Which ranges the engine hands out (control key {@code invalidate}). */
    enum Mode {
        /** None. */
        OFF("off"),
        /**
         * Where the engine lost or may have lost data: every cause but {@link Cause#WRITEBACK_DONE}, and
         * {@link Cause#RECLAIM} only for inodes on which a bug fired. In fixed mode without injected writeback
         * errors nothing is handed out.
         */
        LOSSES("losses"),
        /** Every cause, reclaim of any folio and every writeback completion: the experiment mode. */
        ALL("all");

        public final String id;

        Mode(String id) { this.id = id; }

        public static Mode byId(String id) {
            for (Mode m : values()) {
                if (m.id.equals(id)) {
                    return m;
                }
            }
            return null;
        }
    }

    /** Bytes [offset, offset + length) of inode {@code ino} may differ from what the caller cached. */
    void invalidate(long ino, long offset, long length, Cause cause);
}
