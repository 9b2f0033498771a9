package org.iomapfs.core.api;

/** Inode types with their S_IFMT bits. */
public enum FileType {
    REGULAR(0100000), DIRECTORY(0040000), SYMLINK(0120000);

    public final int ifmt;

    FileType(int ifmt) { this.ifmt = ifmt; }
}
