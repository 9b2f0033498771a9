package org.iomapfs.core.mm;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.pagecache.Folio;
import org.iomapfs.core.uio.IovIter;
import org.iomapfs.core.xfs.XfsFileOps;

import java.util.ArrayList;
import java.util.List;

/**
 * An in-process MAP_SHARED mapping of a file range: the user mappings that a FUSE daemon never sees. Each page
 * has a page-table entry that is absent, present read-only or present writable. Loads fault the folio in
 * (filemap_fault); stores to a page that is not writable fault through page_mkwrite, which dirties the folio;
 * writeback write-protects every mapping of a folio it cleans (folio_mkclean), and reclaim or truncate removing
 * the folio zaps the entry. A region can serve as the buffer of read(2), write(2) and direct I/O
 * ({@link #iov}), including a buffer mapped from the very file being read or written (the gfs2 case), and can
 * have its pages pinned by a direct I/O ({@link #pinForWrite}, pin_user_pages with FOLL_WRITE). Entries are
 * per page; the pages of a large folio each map their part of it.
 */
public final class MappedRegion implements AutoCloseable {
    private final XfsFileOps files;
    private final Inode inode;
    private final long offset;
    private final int length;
    private final Folio[] pte;
    private final int[] pteGen;
    private final boolean[] writable;
    private volatile boolean closed;

    /** Maps [offset, offset + length) of the file; offset must be page aligned (mmap's rule). */
    public MappedRegion(XfsFileOps files, Inode inode, long offset, int length) {
        if (offset % Folio.PAGE_SIZE != 0 || offset < 0 || length <= 0) {
            throw new FsException(Errno.EINVAL, "mmap needs a page-aligned offset and a positive length, not " + offset + "+" + length);
        }
        this.files = files;
        this.inode = inode;
        this.offset = offset;
        this.length = length;
        int pages = (length + Folio.PAGE_SIZE - 1) / Folio.PAGE_SIZE;
        pte = new Folio[pages];
        pteGen = new int[pages];
        writable = new boolean[pages];
    }

    public int length() { return length; }

    public Inode inode() { return inode; }

    /** The file offset of byte {@code off} of the region. */
    public long fileOffset(int off) { return offset + off; }

    private void check(int off, int n) {
        if (closed) {
            throw new FsException(Errno.EFAULT, "the region was unmapped");
        }
        if (off < 0 || n < 0 || off + n > length) {
            throw new FsException(Errno.EFAULT, "access [" + off + ", " + (off + n) + ") outside a " + length + "-byte mapping");
        }
    }

    /** The folio the page-table entry of page {@code p} points at, if the folio is still in the file. */
    private synchronized Folio present(int p) {
        Folio f = pte[p];
        if (f != null && f.isRemoved()) {
            pte[p] = null;
            return null;
        }
        return f;
    }

    private synchronized boolean writableNow(int p, Folio f) {
        return pte[p] == f && writable[p] && pteGen[p] == f.wpGen();
    }

    private synchronized void install(int p, Folio f, boolean w) {
        pte[p] = f;
        pteGen[p] = f.wpGen();
        writable[p] = w;
    }

    private long index(int p) { return offset / Folio.PAGE_SIZE + p; }

    private static FsException sigbus(long pos) {
        return new FsException(Errno.EFAULT, "SIGBUS: access at file offset " + pos + " beyond EOF");
    }

    /** A read fault for page p: the folio, present read-only afterwards. */
    private Folio faultRead(int p) {
        Folio f = files.readFault(inode, index(p));
        if (f == null) {
            throw sigbus(index(p) * Folio.PAGE_SIZE);
        }
        install(p, f, false);
        return f;
    }

    /** A write fault for page p: returns the folio locked and dirty, present writable. */
    private Folio faultWrite(int p) {
        Folio f = files.writeFault(inode, index(p), present(p));
        if (f == null) {
            throw sigbus(index(p) * Folio.PAGE_SIZE);
        }
        install(p, f, true);
        return f;
    }

    /** CPU stores of src[o, o + n) at region offset off. */
    public void store(int off, byte[] src, int o, int n) {
        check(off, n);
        while (n > 0) {
            int p = (int) ((offset + off) / Folio.PAGE_SIZE - offset / Folio.PAGE_SIZE);
            int in = (int) ((offset + off) % Folio.PAGE_SIZE);
            int k = Math.min(n, Folio.PAGE_SIZE - in);
            Folio f = present(p);
            boolean done = false;
            if (f != null) {
                // the store itself takes no lock in the kernel; here the folio lock orders it against folio_mkclean
                f.lock();
                try {
                    if (!f.isRemoved() && writableNow(p, f)) {
                        System.arraycopy(src, o, f.data(), (int) (offset + off - f.pos()), k);
                        done = true;
                    }
                } finally {
                    f.unlock();
                }
            }
            if (!done) {
                Folio g = faultWrite(p);
                try {
                    System.arraycopy(src, o, g.data(), (int) (offset + off - g.pos()), k);
                } finally {
                    g.unlock();
                }
            }
            off += k;
            o += k;
            n -= k;
        }
    }

    /** CPU loads into dst[o, o + n) from region offset off. */
    public void load(int off, byte[] dst, int o, int n) {
        check(off, n);
        copyOut(off, dst, o, n, false);
    }

    /** Copies out of the mapping; with nofault, stops at the first page that is not present. */
    private int copyOut(int off, byte[] dst, int o, int n, boolean nofault) {
        int done = 0;
        while (done < n) {
            int p = (int) ((offset + off + done) / Folio.PAGE_SIZE - offset / Folio.PAGE_SIZE);
            int in = (int) ((offset + off + done) % Folio.PAGE_SIZE);
            int k = Math.min(n - done, Folio.PAGE_SIZE - in);
            Folio f = present(p);
            if (f != null && !f.tryGet()) {
                f = null; // reclaim freed it: its PTE is stale
            }
            if (f == null) {
                if (nofault) {
                    return done;
                }
                f = faultRead(p);
                if (!f.tryGet()) {
                    continue; // freed between the fault and the load: fault again
                }
            }
            try {
                System.arraycopy(f.data(), (int) (offset + off + done - f.pos()), dst, o + done, k);
            } finally {
                f.put();
            }
            done += k;
        }
        return done;
    }

    /** The region's bytes [off, off + len) as the buffer of a read(2) or write(2). */
    public IovIter iov(int off, int len) {
        check(off, len);
        return new IovIter() {
            @Override
            public int count() { return len; }

            @Override
            public int copyFromUser(int o, byte[] dst, int dstOff, int n, boolean nofault) {
                return copyOut(off + o, dst, dstOff, n, nofault);
            }

            @Override
            public void copyToUser(int o, byte[] src, int srcOff, int n) {
                store(off + o, src, srcOff, n);
            }

            @Override
            public int faultInReadable(int o, int n) {
                int done = 0;
                while (done < n) {
                    int p = (int) ((offset + off + o + done) / Folio.PAGE_SIZE - offset / Folio.PAGE_SIZE);
                    int in = (int) ((offset + off + o + done) % Folio.PAGE_SIZE);
                    try {
                        if (present(p) == null) {
                            faultRead(p);
                        }
                    } catch (FsException e) {
                        return n - done;
                    }
                    done += Math.min(n - done, Folio.PAGE_SIZE - in);
                }
                return 0;
            }
        };
    }

    /** Pages pinned by {@link #pinForWrite}: the folio of each page (a large folio once per page, pinned as often). */
    public record Pinned(List<Folio> folios, int off, int len) {
        public void unpin() {
            folios.forEach(Folio::unpin);
        }
    }

    /**
     * pin_user_pages(FOLL_WRITE | FOLL_PIN) over [off, off + len): each page is made present and writable
     * (a write fault through page_mkwrite where needed) and its folio pinned, as a direct I/O does with its
     * user buffer. The caller stores into the folios and dirties them at completion, then unpins.
     */
    public Pinned pinForWrite(int off, int len) {
        check(off, len);
        List<Folio> out = new ArrayList<>();
        int first = (int) ((offset + off) / Folio.PAGE_SIZE - offset / Folio.PAGE_SIZE);
        int last = (int) ((offset + off + len - 1) / Folio.PAGE_SIZE - offset / Folio.PAGE_SIZE);
        for (int p = first; p <= last; p++) {
            Folio f = present(p);
            boolean pinned = false;
            if (f != null) {
                f.lock();
                if (!f.isRemoved() && writableNow(p, f)) {
                    f.pin();
                    pinned = true;
                }
                f.unlock();
            }
            if (!pinned) {
                f = faultWrite(p);
                f.pin();
                f.unlock();
            }
            out.add(f);
        }
        return new Pinned(out, off, len);
    }

    /** munmap: the entries go; pins already taken stay until their owner drops them. */
    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            java.util.Arrays.fill(pte, null);
        }
    }
}
