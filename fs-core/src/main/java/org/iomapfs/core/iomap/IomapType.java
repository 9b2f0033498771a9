package org.iomapfs.core.iomap;

/** iomap->type (include/linux/iomap.h). */
public enum IomapType {
    HOLE, DELALLOC, MAPPED, UNWRITTEN
}
