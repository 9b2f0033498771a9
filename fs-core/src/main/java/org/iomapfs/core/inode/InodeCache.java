package org.iomapfs.core.inode;

import org.iomapfs.core.api.FileType;
import org.iomapfs.core.extent.Allocator;
import org.iomapfs.core.extent.ExtentMap;
import org.iomapfs.core.pagecache.AddressSpace;
import org.iomapfs.core.pagecache.PageCache;
import org.iomapfs.core.store.InodeRecord;
import org.iomapfs.core.store.MetaStore;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The in-core inodes by number (the inode cache): iget's instantiation and iput_final's eviction. */
public final class InodeCache {
    private final Map<Long, Inode> inodes = new ConcurrentHashMap<>();
    private final MetaStore store;
    private final PageCache cache;
    private final Allocator alloc;

    public InodeCache(MetaStore store, PageCache cache, Allocator alloc) {
        this.store = store;
        this.cache = cache;
        this.alloc = alloc;
    }

    /** The in-core inode, or null if it is not (or no longer) in core. */
    public Inode get(long ino) { return inodes.get(ino); }

    public Collection<Inode> all() { return inodes.values(); }

    public int size() { return inodes.size(); }

    /** Builds the in-core inode of a record, with an empty page cache and an unloaded data fork. */
    public Inode instantiate(InodeRecord r) {
        int bs = store.superblock().blockSize();
        AddressSpace mapping = new AddressSpace(r.ino(), bs, cache);
        Inode in = new Inode(r, bs, mapping, new ExtentMap(r.ino(), store, alloc));
        inodes.put(r.ino(), in);
        return in;
    }

    /**
     * evict: frees an inode with no links and no opener. The caller holds no lock (iput_final): the page-cache
     * truncation waits for writeback, which the I/O completion worker ends only after taking the ILOCK and
     * committing the metadata transaction, so it must not run inside an update or under the namespace lock.
     * truncate_inode_pages_final first, then the extent and record removal in a transaction of their own.
     */
    public void evict(Inode in) {
        if (!in.startFreeing()) {
            return;
        }
        in.iRwsem.writeLock().lock();
        in.invalidateLock.writeLock().lock();
        try {
            in.mapping.truncateRange(0, Long.MAX_VALUE);
            in.dataFork.ilock.writeLock().lock();
            try {
                store.update(() -> {
                    in.dataFork.removeAll();
                    store.dropExtents(in.ino);
                    if (in.type == FileType.DIRECTORY) {
                        store.dropDir(in.ino);
                    }
                    in.kill(store);
                });
            } finally {
                in.dataFork.ilock.writeLock().unlock();
            }
            inodes.remove(in.ino);
        } finally {
            in.invalidateLock.writeLock().unlock();
            in.iRwsem.writeLock().unlock();
        }
    }
}
