package org.iomapfs.core.store;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** mkfs: a sparse image with its superblock, and a metadata store with the root directory and all space free. */
public final class Mkfs {
    private Mkfs() { }

    public static Superblock format(Path image, long sizeBytes, int blockSize, boolean force) {
        if (!Superblock.validBlockSize(blockSize)) {
            throw new FsException(Errno.EINVAL, "block size " + blockSize + " is not supported: it must be "
                    + Superblock.acceptedBlockSizes());
        }
        long blocks = sizeBytes / blockSize;
        if (blocks < 16) {
            throw new FsException(Errno.EINVAL, "size " + sizeBytes + " is too small: at least 16 blocks of " + blockSize);
        }
        Path meta = MvMetaStore.metaPath(image);
        if (!force) {
            if (Files.exists(image)) {
                throw new FsException(Errno.EEXIST, image + ": already exists (use --force to overwrite)");
            }
            if (Files.exists(meta)) {
                // the image was removed without its metadata store: name the file in the way, not the absent image
                throw new FsException(Errno.EEXIST, meta + ": already exists (the metadata store of a removed image "
                        + image + "; use --force to overwrite)");
            }
        }
        Superblock sb = new Superblock(Superblock.VERSION, blockSize, blocks, UUID.randomUUID());
        try {
            Files.deleteIfExists(meta);
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(0);
                f.setLength(blocks * blockSize);
                f.write(ImageDevice.encode(sb));
                f.getFD().sync();
            }
        } catch (IOException e) {
            throw new FsException(Errno.EIO, image + ": cannot create: " + e.getMessage());
        }
        try (MvMetaStore store = MvMetaStore.create(meta, sb)) {
            long now = System.currentTimeMillis() * 1_000_000L;
            store.putInode(new InodeRecord(Vfs.ROOT_INO, FileType.DIRECTORY, 0755, 0, 0, 2, 0, now, now, now, null));
            store.putFree(Superblock.FIRST_DATA_BLOCK, blocks - Superblock.FIRST_DATA_BLOCK);
            store.commit(true);
        }
        return sb;
    }
}
