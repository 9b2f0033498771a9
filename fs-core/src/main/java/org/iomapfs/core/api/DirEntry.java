package org.iomapfs.core.api;

/** One directory entry as readdir reports it. */
public record DirEntry(String name, long ino, FileType type) { }
