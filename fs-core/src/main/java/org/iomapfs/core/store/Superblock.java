package org.iomapfs.core.store;

import java.util.UUID;

/**
 * The image's identity, stored in block 0 of the image and mirrored in the metadata store so that a
 * metadata file can be matched to its image. Data blocks are numbered in {@code blockSize} units from the
 * start of the image; block 0 holds this superblock and is never allocated.
 */
public record Superblock(int version, int blockSize, long blockCount, UUID uuid) {
    public static final int VERSION = 1;
    /** The sector size, as XFS's smallest block. */
    public static final int MIN_BLOCK_SIZE = 512;
    /**
     * At most one page ({@code Folio.PAGE_SIZE}): a folio's per-block state covers whole blocks, as the kernel's
     * block size was limited to PAGE_SIZE before large block size support (Linux 6.12).
     */
    public static final int MAX_BLOCK_SIZE = 4096;
    /** First block that may hold file data. */
    public static final long FIRST_DATA_BLOCK = 1;

    public static boolean validBlockSize(int bs) {
        return bs >= MIN_BLOCK_SIZE && bs <= MAX_BLOCK_SIZE && Integer.bitCount(bs) == 1;
    }

    /** "512, 1024, 2048 or 4096": the block sizes {@link #validBlockSize} accepts, for error messages. */
    public static String acceptedBlockSizes() {
        StringBuilder b = new StringBuilder();
        for (int bs = MIN_BLOCK_SIZE; bs <= MAX_BLOCK_SIZE; bs <<= 1) {
            b.append(b.isEmpty() ? "" : bs == MAX_BLOCK_SIZE ? " or " : ", ").append(bs);
        }
        return b.toString();
    }

    public long sizeBytes() { return blockCount * blockSize; }
}
