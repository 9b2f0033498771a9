package org.iomapfs.core.store;

import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.MVStoreException;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.lockdep.TrackedRwLock;
import java.util.function.Supplier;

/**
 * {@link MetaStore} on H2's MVStore, in the file {@code IMAGE.meta}. Auto-commit is off: the file changes only
 * at {@link #commit}, which takes the exclusive side of a read-write lock whose shared side every
 * {@link #update} holds, so a commit is a consistent cut. Maps: {@code sb}, {@code inodes}, {@code symlinks},
 * {@code free}, {@code d.INO} (entries of a directory), {@code e.INO} (extents of an inode) and {@code x.INO}
 * (extended attributes of an inode, name to value).
 *
 * <p>Compaction. Every commit writes a new chunk; without MVStore's background thread (which would also commit
 * on its own) nothing rewrites the live pages left in old chunks, and a dead chunk's space is reused only once
 * its retention time has passed, so a long run of writes and truncates grew the file by a few KiB a commit. At
 * most once per {@link #HOUSEKEEPING_INTERVAL_NS}, a commit also does MVStore's housekeeping itself, after
 * releasing the transaction lock: it syncs the file, pins the version it synced, and rewrites the live pages
 * of the sparsest chunks ({@code MVStore.compact}) into the next commit. A rewrite only re-puts current values
 * (nothing reaches the file before the next commit), and the space of a dead chunk is reused only once the
 * chunk is unused in the pinned, synced version ({@code registerVersionUsage}: MVStore overwrites a chunk only
 * if it was unused before the oldest version still in use). So reopening after a crash, even one that loses
 * unsynced writes, still finds the last synced commit and every chunk it refers to intact, and the file stays
 * near the live metadata divided by the fill rate.
 */
public final class MvMetaStore implements MetaStore {
    static final long STATE_UNWRITTEN = 0;
    static final long STATE_WRITTEN = 1;
    /** Never written by the engine; fsck flags it. */
    static final long STATE_DELALLOC = 2;

    private final MVStore mv;
    private final TrackedRwLock txn = new TrackedRwLock(LockOrder.META_TXN);
    private final MVMap<String, Long> sb;
    private final MVMap<Long, long[]> inodes;
    private final MVMap<Long, String> symlinks;
    private final MVMap<Long, Long> free;
    private final Superblock superblock;
    private final AtomicLong commits = new AtomicLong();
    /**
     * H2's retention time for dead chunks (default 45 s); the synced-version pin is what keeps recovery safe. The
     * file holds about this long's worth of dead chunks, so it follows the commit rate: at 1 s, MemoryBoundTest's
     * churn (about 7,700 commits in 2 s) left 20-35 MB; at 250 ms, 6-9 MB.
     */
    static final int RETENTION_MS = 250;
    static final long HOUSEKEEPING_INTERVAL_NS = 1_000_000_000L;
    /** Chunks are rewritten while the live pages fill less than this percentage of the chunks' space. */
    static final int COMPACT_FILL_RATE = 80;
    /** Upper bound on the bytes of pages one housekeeping pass rewrites, so a commit waits on it only briefly. */
    static final int COMPACT_WRITE_BYTES = 256 << 10;
    private final AtomicLong nextHousekeepingNs = new AtomicLong(System.nanoTime());
    /** The newest version known to be on stable storage, pinned so no chunk it refers to is overwritten. */
    private MVStore.TxCounter syncedPin;
    private final Object pinLock = new Object();
    /**
     * An update other than an inode's timestamps happened since a commit last took this flag. Set after the
     * update and taken before the commit writes, so a commit that takes it holds every update that set it; an
     * update racing a commit sets it again and makes the next fdatasync commit (even outside {@link #update}).
     */
    private final AtomicBoolean beyondTimestamps = new AtomicBoolean(true);
    /** The number of the last commit that held such an update (written under the exclusive side of {@link #txn}). */
    private volatile long beyondTimestampsCommit;
    /** Every commit up to this number is on stable storage. */
    private final AtomicLong syncedThrough = new AtomicLong();

    private MvMetaStore(MVStore mv) {
        this.mv = mv;
        mv.setRetentionTime(RETENTION_MS);
        this.sb = mv.openMap("sb");
        this.inodes = mv.openMap("inodes");
        this.symlinks = mv.openMap("symlinks");
        this.free = mv.openMap("free");
        Long bs = sb.get("blockSize");
        this.superblock = bs == null ? null
                : new Superblock(sb.get("version").intValue(), bs.intValue(), sb.get("blockCount"),
                new UUID(sb.get("uuidHi"), sb.get("uuidLo")));
    }

    /** Path of the metadata file of an image. */
    public static Path metaPath(Path image) {
        return image.resolveSibling(image.getFileName() + ".meta");
    }

    /**
     * Opens an existing store; ENOENT if the file is missing, EINVAL with the cause if MVStore cannot read it.
     * MVStore creates (read-write) or initialises (an empty file) a store it does not find, so those two are
     * refused here: a failed open must leave the files as they were.
     */
    public static MvMetaStore open(Path metaFile, boolean readOnly) {
        if (!Files.exists(metaFile)) {
            throw new FsException(Errno.ENOENT, metaFile + ": metadata file is missing (mkfs writes it beside the image;"
                    + " the image cannot be used without it)");
        }
        if (!Files.isRegularFile(metaFile)) {
            throw new FsException(Errno.EINVAL, metaFile + ": metadata file is not a regular file");
        }
        try {
            if (Files.size(metaFile) == 0) {
                throw new FsException(Errno.EINVAL, metaFile + ": metadata file is empty");
            }
        } catch (IOException e) {
            throw new FsException(Errno.EIO, metaFile + ": cannot read: " + e.getMessage());
        }
        try {
            MVStore.Builder b = new MVStore.Builder().fileName(metaFile.toString()).autoCommitDisabled();
            if (readOnly) {
                b.readOnly();
            }
            MvMetaStore s = new MvMetaStore(b.open());
            if (s.superblock == null) {
                s.mv.closeImmediately();
                throw new FsException(Errno.EINVAL, metaFile + ": metadata store has no superblock");
            }
            return s;
        } catch (MVStoreException e) {
            throw new FsException(Errno.EINVAL, metaFile + ": corrupt metadata store (" + e.getMessage().split("\n")[0] + ")", e);
        }
    }

    /** Creates a new store holding the superblock mirror (mkfs). */
    static MvMetaStore create(Path metaFile, Superblock s) {
        MVStore mv = new MVStore.Builder().fileName(metaFile.toString()).autoCommitDisabled().open();
        MVMap<String, Long> m = mv.openMap("sb");
        m.put("version", (long) s.version());
        m.put("blockSize", (long) s.blockSize());
        m.put("blockCount", s.blockCount());
        m.put("uuidHi", s.uuid().getMostSignificantBits());
        m.put("uuidLo", s.uuid().getLeastSignificantBits());
        m.put("nextIno", 2L);
        return new MvMetaStore(mv);
    }

    @Override
    public Superblock superblock() { return superblock; }

    @Override
    public <T> T update(Supplier<T> body) {
        txn.readLock().lock();
        try {
            return body.get();
        } finally {
            txn.readLock().unlock();
        }
    }

    /**
     * The exclusive side of {@link #txn} is held only while MVStore writes the new version; the fsync of a
     * durable commit runs after it is released, so updates (every buffered write, direct write completion and
     * allocation) do not wait for the disk. The caller still returns only once its commit is on stable storage.
     * Housekeeping (see the class comment) also runs after the lock is released; its rewrite pass holds
     * MVStore's store lock for at most {@link #COMPACT_WRITE_BYTES} of pages, and a commit waits for that.
     */
    @Override
    public void commit(boolean durable) {
        long due = nextHousekeepingNs.get();
        boolean housekeeping = System.nanoTime() - due >= 0
                && nextHousekeepingNs.compareAndSet(due, System.nanoTime() + HOUSEKEEPING_INTERVAL_NS);
        MVStore.TxCounter pin = null;
        long number;
        txn.writeLock().lock();
        try {
            boolean beyond = beyondTimestamps.getAndSet(false);
            mv.commit();
            number = commits.incrementAndGet();
            if (beyond) {
                beyondTimestampsCommit = number;
            }
            if (durable || housekeeping) {
                pin = mv.registerVersionUsage();
            }
        } finally {
            txn.writeLock().unlock();
        }
        if (pin != null) {
            mv.sync();
            advanceSyncedPin(pin);
            syncedThrough.accumulateAndGet(number, Math::max);
        }
        if (housekeeping) {
            mv.compact(COMPACT_FILL_RATE, COMPACT_WRITE_BYTES);
        }
    }

    /** Keeps the newer of the pinned and the just-synced version pinned, and releases the other (null: both). */
    private void advanceSyncedPin(MVStore.TxCounter pin) {
        MVStore.TxCounter release;
        synchronized (pinLock) {
            if (pin != null && syncedPin != null && syncedPin.version > pin.version) {
                release = pin;
            } else {
                release = syncedPin;
                syncedPin = pin;
            }
        }
        if (release != null) {
            mv.deregisterVersionUsage(release);
        }
    }

    @Override
    public long fileBytes() {
        return mv.isClosed() ? 0 : mv.getFileStore().size();
    }

    @Override
    public long commitCount() { return commits.get(); }

    @Override
    public boolean unsyncedOnlyTimestamps() {
        // under the shared side: a commit taking the flag also records its number before anyone looks again
        txn.readLock().lock();
        try {
            return !beyondTimestamps.get() && beyondTimestampsCommit <= syncedThrough.get();
        } finally {
            txn.readLock().unlock();
        }
    }

    /** Every update but {@link #putInode} of changed timestamps only calls this, after it changed the map. */
    private void changed() { beyondTimestamps.set(true); }

    @Override
    public synchronized long allocateIno() {
        long ino = sb.get("nextIno");
        sb.put("nextIno", ino + 1);
        changed();
        return ino;
    }

    @Override
    public void putInode(InodeRecord r) {
        long[] v = {1, r.type().ordinal(), r.mode(), r.uid(), r.gid(), r.nlink(), r.size(), r.atimeNs(), r.mtimeNs(),
                r.ctimeNs()};
        // a device node's rdev as an 11th word; every other inode keeps the 10 words older images have
        if (r.rdev() != 0) {
            v = java.util.Arrays.copyOf(v, 11);
            v[10] = r.rdev();
        }
        long[] old = inodes.put(r.ino(), v);
        if (r.symlinkTarget() != null) {
            symlinks.put(r.ino(), r.symlinkTarget());
        }
        if (old == null || !sameBesidesTimestamps(old, v)) {
            changed();
        }
    }

    /** Words 7-9 of an inode's value are atime, mtime and ctime (what XFS logs as XFS_ILOG_TIMESTAMP). */
    private static boolean sameBesidesTimestamps(long[] a, long[] b) {
        if (a.length != b.length) {
            return false;
        }
        for (int i = 0; i < a.length; i++) {
            if ((i < 7 || i > 9) && a[i] != b[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public InodeRecord getInode(long ino) {
        long[] v = inodes.get(ino);
        return v == null ? null : decode(ino, v);
    }

    private InodeRecord decode(long ino, long[] v) {
        return new InodeRecord(ino, FileType.values()[(int) v[1]], (int) v[2], (int) v[3], (int) v[4], (int) v[5], v[6],
                v[7], v[8], v[9], symlinks.get(ino), v.length > 10 ? v[10] : 0);
    }

    @Override
    public void removeInode(long ino) {
        inodes.remove(ino);
        symlinks.remove(ino);
        if (mv.hasMap("x." + ino)) {
            mv.removeMap(xattrs(ino));
        }
        changed();
    }

    @Override
    public List<InodeRecord> allInodes() {
        List<InodeRecord> out = new ArrayList<>();
        for (Map.Entry<Long, long[]> e : inodes.entrySet()) {
            out.add(decode(e.getKey(), e.getValue()));
        }
        return out;
    }

    private MVMap<String, Long> dir(long ino) { return mv.openMap("d." + ino); }

    private MVMap<Long, long[]> ext(long ino) { return mv.openMap("e." + ino); }

    @Override
    public void putDirent(long dirIno, String name, long ino) {
        dir(dirIno).put(name, ino);
        changed();
    }

    @Override
    public void removeDirent(long dirIno, String name) {
        dir(dirIno).remove(name);
        changed();
    }

    @Override
    public Long lookup(long dirIno, String name) { return dir(dirIno).get(name); }

    @Override
    public List<Map.Entry<String, Long>> listDir(long dirIno) {
        if (!mv.hasMap("d." + dirIno)) {
            return List.of();
        }
        List<Map.Entry<String, Long>> out = new ArrayList<>();
        for (Map.Entry<String, Long> e : dir(dirIno).entrySet()) {
            out.add(new AbstractMap.SimpleImmutableEntry<>(e.getKey(), e.getValue()));
        }
        return out;
    }

    @Override
    public void dropDir(long dirIno) {
        if (mv.hasMap("d." + dirIno)) {
            mv.removeMap(dir(dirIno));
        }
        changed();
    }

    private MVMap<String, byte[]> xattrs(long ino) { return mv.openMap("x." + ino); }

    @Override
    public void putXattr(long ino, String name, byte[] value) {
        xattrs(ino).put(name, value.clone());
        changed();
    }

    @Override
    public byte[] getXattr(long ino, String name) {
        if (!mv.hasMap("x." + ino)) {
            return null;
        }
        byte[] v = xattrs(ino).get(name);
        return v == null ? null : v.clone();
    }

    @Override
    public boolean removeXattr(long ino, String name) {
        boolean removed = mv.hasMap("x." + ino) && xattrs(ino).remove(name) != null;
        changed();
        return removed;
    }

    @Override
    public List<String> listXattrs(long ino) {
        return mv.hasMap("x." + ino) ? new ArrayList<>(xattrs(ino).keySet()) : List.of();
    }

    @Override
    public void putExtent(long ino, ExtentRecord e) {
        ext(ino).put(e.fileBlock(), new long[]{e.blockCount(), e.diskBlock(), e.unwritten() ? STATE_UNWRITTEN : STATE_WRITTEN});
        changed();
    }

    @Override
    public void removeExtent(long ino, long fileBlock) {
        ext(ino).remove(fileBlock);
        changed();
    }

    @Override
    public List<ExtentRecord> extents(long ino) {
        List<ExtentRecord> out = new ArrayList<>();
        for (long[] raw : rawExtents(ino)) {
            out.add(new ExtentRecord(raw[0], raw[1], raw[2], raw[3] == STATE_UNWRITTEN));
        }
        return out;
    }

    /** (fileBlock, count, disk, state) in file order. */
    List<long[]> rawExtents(long ino) {
        if (!mv.hasMap("e." + ino)) {
            return List.of();
        }
        List<long[]> out = new ArrayList<>();
        for (Map.Entry<Long, long[]> e : ext(ino).entrySet()) {
            long[] v = e.getValue();
            out.add(new long[]{e.getKey(), v[0], v[1], v[2]});
        }
        return out;
    }

    @Override
    public void dropExtents(long ino) {
        if (mv.hasMap("e." + ino)) {
            mv.removeMap(ext(ino));
        }
        changed();
    }

    @Override
    public void putFree(long startBlock, long blockCount) {
        free.put(startBlock, blockCount);
        changed();
    }

    @Override
    public void removeFree(long startBlock) {
        free.remove(startBlock);
        changed();
    }

    @Override
    public List<long[]> freeExtents() {
        List<long[]> out = new ArrayList<>();
        for (Map.Entry<Long, Long> e : free.entrySet()) {
            out.add(new long[]{e.getKey(), e.getValue()});
        }
        return out;
    }

    /** Closes without committing: the next open sees the last commit (a crash, for tests). */
    public void crash() { mv.closeImmediately(); }

    @Override
    public void close() {
        if (!mv.isClosed()) {
            if (mv.isReadOnly()) {
                mv.closeImmediately();
            } else {
                commit(true);
                advanceSyncedPin(null);
                mv.close();
            }
        }
    }
}
