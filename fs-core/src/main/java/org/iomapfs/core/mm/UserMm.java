package org.iomapfs.core.mm;

import org.iomapfs.core.dio.DirectIo;
import org.iomapfs.core.file.FileTable;
import org.iomapfs.core.file.OpenFile;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.mount.FsContext;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.trace.Trace;
import org.iomapfs.core.xfs.XfsFileOps;
import org.iomapfs.core.xfs.XfsIomapOps;

import java.nio.ByteBuffer;

/**
 * The in-process user mappings of one engine, the part of mm a FUSE daemon never sees: mmap(MAP_SHARED) of an
 * open file, and read(2)/write(2) whose user buffer is such a mapping (possibly of the very file).
 */
public final class UserMm {
    private final FsContext ctx;
    private final FileTable files;
    private final XfsFileOps fops;
    private final XfsIomapOps ops;
    private final DirectIo dio;

    public UserMm(FsContext ctx, FileTable files, XfsFileOps fops, XfsIomapOps ops, DirectIo dio) {
        this.ctx = ctx;
        this.files = files;
        this.fops = fops;
        this.ops = ops;
        this.dio = dio;
    }

    /** mmap(MAP_SHARED) of [offset, offset + length) of an open file. */
    public MappedRegion map(long fh, long offset, int length) {
        return new MappedRegion(fops, files.get(fh).regular("mmap"), offset, length);
    }

    /** read(2) into a mapping's bytes [off, off + len); the mapping may be of this very file. */
    public int read(long fh, long offset, MappedRegion dst, int off, int len) {
        OpenFile f = files.get(fh);
        Inode in = f.regular("read");
        ctx.hooks.fire(HookPoint.READ_BEGIN, in, offset);
        if (f.isDirect()) {
            return directReadInto(in, offset, dst, off, len);
        }
        return fops.read(in, f.ra, offset, dst.iov(off, len));
    }

    /** write(2) from a mapping's bytes [off, off + len); the mapping may be of this very file. */
    public int write(long fh, long offset, MappedRegion src, int off, int len) {
        OpenFile f = files.get(fh);
        Inode in = files.forWrite(f, offset, len, "write");
        if (f.isDirect()) {
            byte[] tmp = new byte[len];
            src.load(off, tmp, 0, len);
            return dio.write(in, offset, ByteBuffer.wrap(tmp), ops.directWrite);
        }
        return (int) fops.write(in, offset, src.iov(off, len));
    }

    /**
     * A direct read into a mapping (Jan Kara's 2018 case): the destination pages are pinned for write
     * (page_mkwrite dirties them), the I/O fills them, and completion dirties them again without any
     * page_mkwrite (bio_set_pages_dirty / set_page_dirty_lock) before unpinning.
     */
    private int directReadInto(Inode in, long offset, MappedRegion dst, int off, int len) {
        MappedRegion.Pinned pins = dst.pinForWrite(off, len);
        try {
            ctx.hooks.fire(HookPoint.DIO_PAGES_PINNED, dst.inode(), dst.fileOffset(off));
            byte[] tmp = new byte[len];
            int n = dio.read(in, offset, ByteBuffer.wrap(tmp), ops.read);
            int done = 0;
            Folio prev = null;
            for (Folio f : pins.folios()) {
                if (f == prev) {
                    continue; // the next page of the same large folio: its whole part was stored already
                }
                prev = f;
                long from = Math.max(f.pos(), dst.fileOffset(off));
                long to = Math.min(f.pos() + f.size(), dst.fileOffset(off) + n);
                if (from < to) {
                    System.arraycopy(tmp, (int) (from - dst.fileOffset(off)), f.data(), (int) (from - f.pos()), (int) (to - from));
                    done += (int) (to - from);
                }
                f.lock();
                try {
                    if (!f.isRemoved()) {
                        f.setRangeDirty(0, f.size(), dst.inode().blockSize);
                        f.mapping.dirtyFolio(f);
                    }
                } finally {
                    f.unlock();
                }
            }
            ctx.trace.emit(Trace.Event.DIO, dst.inode().ino, dst.fileOffset(off), done, "read into a pinned mapping");
            return n;
        } finally {
            pins.unpin();
        }
    }
}
