package org.iomapfs.core.buffered;

import org.iomapfs.core.inode.Inode;

/** Releases delalloc a failed buffered write reserved but did not use, over [startByte, endByte). */
@FunctionalInterface
public interface DelallocRelease {
    void release(Inode inode, long startByte, long endByte);
}
