package org.iomapfs.core.iomap;

import org.iomapfs.core.inode.Inode;

/**
 * struct iomap_ops plus the {@code iomap_valid} hook of iomap_folio_ops. {@link #end()} returns null when
 * the ops have no {@code ->iomap_end}, as the page_mkwrite ops since 118e021b4b66.
 */
public interface IomapOps {
    /** IOMAP_WRITE and friends (include/linux/iomap.h). */
    int WRITE = 1 << 0;
    int ZERO = 1 << 1;
    int REPORT = 1 << 2;
    int FAULT = 1 << 3;
    int DIRECT = 1 << 4;

    /** ->iomap_begin: maps the range starting at {@code pos}; may return a longer or shorter mapping. */
    Iomap begin(Inode inode, long pos, long length, int flags);

    /** ->iomap_end, or null. */
    default End end() { return null; }

    /** ->iomap_valid, called with the folio at the write position locked. */
    default boolean valid(Inode inode, Iomap iomap) { return true; }

    @FunctionalInterface
    interface End {
        /** Called after each iteration with the bytes this iteration processed (0 on failure). */
        void end(Inode inode, long pos, long length, long written, int flags, Iomap iomap);
    }
}
