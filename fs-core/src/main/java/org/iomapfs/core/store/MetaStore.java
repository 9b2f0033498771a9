package org.iomapfs.core.store;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The embedded transactional store holding every piece of metadata: inodes, directory entries, extended
 * attributes (removed with their inode by {@link #removeInode}), the real
 * extents of each data fork, the free-space btree (by start block, like XFS's bnobt) and counters.
 *
 * <p>Transactions: a caller groups the puts and removes that must land together inside {@link #update}.
 * {@link #commit} makes everything updated so far durable as one atomic unit and never captures half of an
 * {@code update} block; nothing reaches the metadata file between commits (no background auto-commit).
 * After a crash the store reopens at the last commit. All methods are thread-safe.
 *
 * <p>May not touch: the engine's in-memory state. This is persistence only.
 */
public interface MetaStore extends AutoCloseable {
    Superblock superblock();

    /** Runs {@code body} so that no commit observes part of it; calls may nest. */
    <T> T update(Supplier<T> body);

    default void update(Runnable body) {
        update(() -> {
            body.run();
            return null;
        });
    }

    /** Commits all updates so far; with {@code durable}, also forces the metadata file to stable storage. */
    void commit(boolean durable);

    /**
     * Whether every update not yet on stable storage changes nothing but inode timestamps (atime, mtime,
     * ctime): what fdatasync needs not force (see {@code FsContext#commitForDatasync}). False while any other
     * update is uncommitted, or committed by a commit that was not synced yet.
     */
    boolean unsyncedOnlyTimestamps();

    /** Number of commits so far in this open store (for tests and metrics). */
    long commitCount();

    /** Current size of the metadata file in bytes. */
    long fileBytes();

    /** Hands out a new inode number (persisted with the next commit). */
    long allocateIno();

    void putInode(InodeRecord inode);

    /** @return the inode or null */
    InodeRecord getInode(long ino);

    void removeInode(long ino);

    List<InodeRecord> allInodes();

    void putDirent(long dirIno, String name, long ino);

    void removeDirent(long dirIno, String name);

    /** @return the inode number or null */
    Long lookup(long dirIno, String name);

    /** Entries of a directory in name order. */
    List<Map.Entry<String, Long>> listDir(long dirIno);

    /** Removes every entry of a directory (used when the directory inode itself goes away). */
    void dropDir(long dirIno);

    /** Inserts or replaces the extent starting at {@code extent.fileBlock()}. */
    void putExtent(long ino, ExtentRecord extent);

    void removeExtent(long ino, long fileBlock);

    /** The inode's extents in file order. */
    List<ExtentRecord> extents(long ino);

    void dropExtents(long ino);

    /** Sets extended attribute {@code name} (full name, namespace prefix included) of an inode. */
    void putXattr(long ino, String name, byte[] value);

    /** @return the value or null */
    byte[] getXattr(long ino, String name);

    /** @return whether the attribute existed */
    boolean removeXattr(long ino, String name);

    /** The inode's extended attribute names in name order. */
    List<String> listXattrs(long ino);

    /** Inserts or replaces the free extent starting at {@code startBlock}. */
    void putFree(long startBlock, long blockCount);

    void removeFree(long startBlock);

    /** All free extents as (start block, block count), in block order. */
    List<long[]> freeExtents();

    @Override
    void close();
}
