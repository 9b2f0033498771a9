package org.iomapfs.core;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.buffered.BufferedIo;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.dio.DirectIo;
import org.iomapfs.core.extent.Allocator;
import org.iomapfs.core.file.FileTable;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.inode.InodeCache;
import org.iomapfs.core.metrics.EngineMetrics;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.namespace.Namespace;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.pagecache.PageCache;
import org.iomapfs.core.store.ImageDevice;
import org.iomapfs.core.store.InodeRecord;
import org.iomapfs.core.store.MvMetaStore;
import org.iomapfs.core.store.Superblock;
import org.iomapfs.core.writeback.Writeback;
import org.iomapfs.core.xfs.XfsAops;
import org.iomapfs.core.xfs.XfsFileOps;
import org.iomapfs.core.xfs.XfsIomapOps;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Mount-time wiring (xfs_fs_fill_super / xfs_mountfs): opens the image and its metadata store, builds the parts
 * in dependency order, reads every inode in, frees orphans (inodes with no link left, which were open-unlinked
 * when the previous instance stopped), commits and starts writeback. Nothing is replayed: the store reopens at
 * its last commit. A read-only mount ({@link EngineConfig#readOnly}) opens both files read-only, leaves orphans
 * for the next read-write mount and commits nothing, so the image's bytes stay as they were.
 */
final class EngineBuilder {
    /** The parts of one mounted engine, built in this order. */
    record Parts(ImageDevice dev, MvMetaStore store, FsContext ctx, InodeCache inodes, FileTable files,
                 Writeback writeback, XfsIomapOps ops, XfsFileOps fops, DirectIo dio, Namespace ns) { }

    private EngineBuilder() { }

    static IomapFs open(Path image, EngineConfig config) {
        boolean ro = config.readOnly();
        ImageDevice dev = ImageDevice.open(image, ro);
        MvMetaStore store;
        try {
            store = MvMetaStore.open(MvMetaStore.metaPath(image), ro);
        } catch (RuntimeException e) {
            dev.close();
            throw e;
        }
        Superblock a = dev.superblock();
        Superblock b = store.superblock();
        if (!a.equals(b)) {
            store.crash();
            dev.close();
            throw new FsException(Errno.EINVAL, image + ": metadata file belongs to another image (" + b.uuid() + " != " + a.uuid() + ")");
        }
        Parts p = wire(dev, store, config);
        readInodes(p, !ro);
        p.ctx().commit(true);
        p.writeback().start();
        return new IomapFs(p);
    }

    private static Parts wire(ImageDevice dev, MvMetaStore store, EngineConfig config) {
        Superblock sb = store.superblock();
        EngineMetrics metrics = new EngineMetrics(config.registry());
        PageCache cache = new PageCache(metrics, config.cacheBytes());
        metrics.bindFootprint(cache::cachedFolios, cache::budgetBytes, cache::lruLength, store::fileBytes, Folio.PAGE_SIZE);
        Allocator alloc = new Allocator(store, sb.blockCount() - Superblock.FIRST_DATA_BLOCK);
        InodeCache inodes = new InodeCache(store, cache, alloc);
        FsContext ctx = new FsContext(store, dev, alloc, cache, metrics, config, inodes::get, inodes::all);
        Writeback writeback = new Writeback(ctx, new XfsAops(ctx));
        BufferedIo bio = new BufferedIo(ctx);
        XfsIomapOps ops = new XfsIomapOps(ctx, bio);
        XfsFileOps fops = new XfsFileOps(ctx, bio, ops, writeback);
        DirectIo dio = new DirectIo(ctx, writeback);
        Namespace ns = new Namespace(store, inodes::get, inodes::instantiate, inodes::evict, ctx.hooks);
        // s_maxbytes: 16x the image, far past what it can hold yet still short of offset overflow
        FileTable files = new FileTable(sb.sizeBytes() * 16);
        return new Parts(dev, store, ctx, inodes, files, writeback, ops, fops, dio, ns);
    }

    /** Reads every inode with its extents and directory entries in, then (with {@code freeOrphans}) evicts the orphans. */
    private static void readInodes(Parts p, boolean freeOrphans) {
        MvMetaStore store = p.store();
        for (InodeRecord r : store.allInodes()) {
            Inode in = p.inodes().instantiate(r);
            in.dataFork.load(store.extents(r.ino()));
            if (r.type() == FileType.DIRECTORY) {
                for (Map.Entry<String, Long> e : store.listDir(r.ino())) {
                    in.entries.put(e.getKey(), e.getValue());
                }
            }
        }
        if (p.inodes().get(Vfs.ROOT_INO) == null) {
            throw new FsException(Errno.EINVAL, "metadata store has no root directory");
        }
        for (Inode in : freeOrphans ? List.copyOf(p.inodes().all()) : List.<Inode>of()) {
            if (in.nlink() == 0) {
                p.inodes().evict(in);
            }
        }
    }
}
