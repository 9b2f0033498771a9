package org.iomapfs.core.api;

/** statfs(2) figures; block counts are in {@code blockSize} units and free space is real free space on the image. */
public record StatFs(int blockSize, long totalBlocks, long freeBlocks, long availBlocks, long files, long freeFiles,
                     int nameMax) { }
