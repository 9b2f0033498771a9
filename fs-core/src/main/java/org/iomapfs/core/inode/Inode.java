package org.iomapfs.core.inode;

import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.SetId;
import org.iomapfs.core.config.AtimePolicy;
import org.iomapfs.core.extent.ExtentMap;
import org.iomapfs.core.pagecache.AddressSpace;
import org.iomapfs.core.store.InodeRecord;
import org.iomapfs.core.store.MetaStore;

import java.util.concurrent.ConcurrentSkipListMap;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.lockdep.TrackedRwLock;

/**
 * An in-core inode: attributes, the two inode-level locks of {@link org.iomapfs.core.lockdep.LockOrder}, the page cache and the data
 * fork. {@link #size} is i_size: read without locks, changed under i_rwsem exclusive (or by direct I/O
 * completion) inside a metadata update.
 */
public final class Inode {
    public final long ino;
    public final FileType type;
    public final int blockSize;
    public final TrackedRwLock iRwsem = new TrackedRwLock(LockOrder.I_RWSEM);
    public final TrackedRwLock invalidateLock = new TrackedRwLock(LockOrder.INVALIDATE_LOCK);
    public final AddressSpace mapping;
    public final ExtentMap dataFork;
    /** Directory entries, name -> ino (directories only), guarded by the namespace lock for changes. */
    public final ConcurrentSkipListMap<String, Long> entries;
    public final String symlinkTarget;
    /** st_rdev of a device node, 0 for any other inode. */
    public final long rdev;

    private volatile long size;
    private volatile int mode;
    private volatile int uid;
    private volatile int gid;
    private volatile int nlink;
    private volatile long atimeNs;
    private volatile long mtimeNs;
    private volatile long ctimeNs;
    private boolean attrDirty;
    private boolean dead;
    private volatile boolean freeing;
    /** Open file handles; guarded by the namespace lock. */
    public int openCount;

    public Inode(InodeRecord r, int blockSize, AddressSpace mapping, ExtentMap dataFork) {
        this.ino = r.ino();
        this.type = r.type();
        this.blockSize = blockSize;
        this.mapping = mapping;
        this.dataFork = dataFork;
        this.entries = r.type() == FileType.DIRECTORY ? new ConcurrentSkipListMap<>() : null;
        this.symlinkTarget = r.symlinkTarget();
        this.rdev = r.rdev();
        this.size = r.size();
        this.mode = r.mode();
        this.uid = r.uid();
        this.gid = r.gid();
        this.nlink = r.nlink();
        this.atimeNs = r.atimeNs();
        this.mtimeNs = r.mtimeNs();
        this.ctimeNs = r.ctimeNs();
    }

    public long size() { return size; }

    public int nlink() { return nlink; }

    public int mode() { return mode; }

    public int uid() { return uid; }

    public int gid() { return gid; }

    public synchronized void setSize(long newSize) {
        size = newSize;
        attrDirty = true;
    }

    public synchronized void setMode(int m) { mode = m; touchCtime(); }

    /** Clears the bits {@link SetId#toKill} names; moves ctime if a bit went. Whether one did. */
    public synchronized boolean killSuidSgid(boolean callerOutsideGroup) {
        int kill = SetId.toKill(mode, callerOutsideGroup);
        if (kill == 0) {
            return false;
        }
        mode &= ~kill;
        touchCtime();
        return true;
    }

    public synchronized void setOwner(int u, int g) {
        if (u != -1) {
            uid = u;
        }
        if (g != -1) {
            gid = g;
        }
        touchCtime();
    }

    public synchronized void setNlink(int n) { nlink = n; touchCtime(); }

    public synchronized void setTimes(long a, long m) {
        atimeNs = a;
        mtimeNs = m;
        touchCtime();
    }

    /** file_update_time after a data change. */
    public synchronized void touchMtime() {
        long now = now();
        mtimeNs = now;
        ctimeNs = now;
        attrDirty = true;
    }

    /**
     * touch_atime (fs/inode.c) under {@code policy}: sets atime to now when {@link AtimePolicy#needsUpdate} says so
     * and marks the attributes dirty so the next commit keeps it (mark_inode_dirty_sync). Returns whether it changed.
     */
    public synchronized boolean touchAtime(AtimePolicy policy) {
        long now = now();
        if (!policy.needsUpdate(type == FileType.DIRECTORY, atimeNs, mtimeNs, ctimeNs, now)) {
            return false;
        }
        atimeNs = now;
        attrDirty = true;
        return true;
    }

    /** inode_set_ctime_current for a change of metadata only (an extended attribute). */
    public synchronized void touchCtimeOnly() { touchCtime(); }

    private void touchCtime() {
        ctimeNs = now();
        attrDirty = true;
    }

    public static long now() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    public synchronized InodeRecord record() {
        return new InodeRecord(ino, type, mode, uid, gid, nlink, size, atimeNs, mtimeNs, ctimeNs, symlinkTarget, rdev);
    }

    /**
     * Writes the current attributes to the store. Reading and writing under this inode's monitor makes the
     * last writer store the newest values, so racing persisters never go back in time.
     */
    public synchronized void persist(MetaStore store) {
        if (dead) {
            return;
        }
        store.putInode(record());
        attrDirty = false;
    }

    /** Removes the inode record; later persists are ignored so a racing commit cannot resurrect it. */
    public synchronized void kill(MetaStore store) {
        dead = true;
        store.removeInode(ino);
    }

    /**
     * I_FREEING: claims the eviction of this inode. The last unlink and the last close decide it under the
     * namespace lock but evict after releasing it, so exactly one caller may go on.
     */
    public synchronized boolean startFreeing() {
        if (freeing) {
            return false;
        }
        freeing = true;
        return true;
    }

    /** Whether eviction has begun (writeback starts nothing more on this inode). */
    public boolean isFreeing() { return freeing; }

    /** Persists only if attributes changed since the last persist (commit time). */
    public synchronized void persistIfDirty(MetaStore store) {
        if (attrDirty) {
            persist(store);
        }
    }

    public FileAttr attr() {
        InodeRecord r = record();
        long blocks;
        if (dataFork != null) {
            dataFork.ilock.readLock().lock();
            try {
                blocks = (dataFork.realBlocks() + dataFork.delallocBlocks()) * blockSize / 512;
            } finally {
                dataFork.ilock.readLock().unlock();
            }
        } else {
            blocks = 0;
        }
        long sz = type == FileType.DIRECTORY ? 4096 : type == FileType.SYMLINK ? symlinkTarget.length() : r.size();
        return new FileAttr(ino, type, r.mode(), r.nlink(), r.uid(), r.gid(), sz, blocks, 4096, r.atimeNs(), r.mtimeNs(),
                r.ctimeNs(), rdev);
    }

    /** Block index of byte {@code pos}. */
    public long block(long pos) { return pos / blockSize; }

    /** First block at or after byte {@code pos}. */
    public long blockUp(long pos) { return (pos + blockSize - 1) / blockSize; }

    @Override
    public String toString() { return "inode " + ino; }
}
