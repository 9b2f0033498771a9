package org.iomapfs.core.store;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.block.BlockDev;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.zip.CRC32;

/**
 * The data image: block 0 holds the superblock (magic {@code IOMAPFS1}, version, block size, block count,
 * UUID, CRC32), the rest holds file data. Opened read-write it takes an exclusive lock on the file, so a
 * second mount of the same image fails with EBUSY.
 */
public final class ImageDevice implements BlockDev, AutoCloseable {
    static final byte[] MAGIC = "IOMAPFS1".getBytes(StandardCharsets.US_ASCII);
    static final int SB_BYTES = 8 + 4 + 4 + 8 + 8 + 8 + 4;

    private final Path path;
    private final FileChannel ch;
    private final FileLock lock;
    private final Superblock sb;
    private final HostSync hostSync;

    private ImageDevice(Path path, FileChannel ch, FileLock lock, Superblock sb) {
        this.path = path;
        this.ch = ch;
        this.lock = lock;
        this.sb = sb;
        this.hostSync = lock == null ? null : HostSync.open(path);
    }

    public Superblock superblock() { return sb; }

    static byte[] encode(Superblock s) {
        ByteBuffer b = ByteBuffer.allocate(SB_BYTES);
        b.put(MAGIC).putInt(s.version()).putInt(s.blockSize()).putLong(s.blockCount())
                .putLong(s.uuid().getMostSignificantBits()).putLong(s.uuid().getLeastSignificantBits());
        CRC32 crc = new CRC32();
        crc.update(b.array(), 0, SB_BYTES - 4);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /** Reads and checks the superblock without changing anything. */
    static Superblock readSuperblock(Path image) {
        if (!Files.exists(image)) {
            throw new FsException(Errno.ENOENT, image + ": no such image");
        }
        if (!Files.isRegularFile(image)) {
            throw new FsException(Errno.EINVAL, image + ": not a regular file");
        }
        byte[] raw = new byte[SB_BYTES];
        long len;
        try (FileChannel c = FileChannel.open(image, StandardOpenOption.READ)) {
            len = c.size();
            ByteBuffer b = ByteBuffer.wrap(raw);
            while (b.hasRemaining() && c.read(b, b.position()) > 0) {
                // keep reading
            }
            if (b.hasRemaining()) {
                throw new FsException(Errno.EINVAL, image + ": not an iomapfs image (too short for a superblock)");
            }
        } catch (NoSuchFileException e) {
            throw new FsException(Errno.ENOENT, image + ": no such image");
        } catch (IOException e) {
            throw new FsException(Errno.EIO, image + ": cannot read: " + e.getMessage());
        }
        ByteBuffer b = ByteBuffer.wrap(raw);
        byte[] magic = new byte[8];
        b.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new FsException(Errno.EINVAL, image + ": not an iomapfs image (bad magic)");
        }
        CRC32 crc = new CRC32();
        crc.update(raw, 0, SB_BYTES - 4);
        int version = b.getInt();
        int bs = b.getInt();
        long count = b.getLong();
        UUID uuid = new UUID(b.getLong(), b.getLong());
        if (b.getInt() != (int) crc.getValue()) {
            throw new FsException(Errno.EINVAL, image + ": corrupt superblock (checksum mismatch)");
        }
        if (version != Superblock.VERSION) {
            throw new FsException(Errno.EINVAL, image + ": unsupported image version " + version);
        }
        if (!Superblock.validBlockSize(bs)) {
            throw new FsException(Errno.EINVAL, image + ": corrupt superblock (block size " + bs
                    + " is not " + Superblock.acceptedBlockSizes() + ")");
        }
        if (len < count * bs) {
            throw new FsException(Errno.EINVAL, image + ": image is " + len + " bytes, superblock says " + count * bs);
        }
        return new Superblock(version, bs, count, uuid);
    }

    /** Opens a checked image; read-write takes the image lock (EBUSY if another process holds it). */
    public static ImageDevice open(Path image, boolean readOnly) {
        Superblock s = readSuperblock(image);
        try {
            FileChannel c = readOnly ? FileChannel.open(image, StandardOpenOption.READ)
                    : FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock l = null;
            if (!readOnly) {
                try {
                    l = c.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l == null) {
                    c.close();
                    throw new FsException(Errno.EBUSY, image + ": image is already in use (mounted?)");
                }
            }
            return new ImageDevice(image, c, l, s);
        } catch (IOException e) {
            throw new FsException(Errno.EIO, image + ": cannot open: " + e.getMessage());
        }
    }

    @Override
    public void read(long off, byte[] buf, int o, int len) {
        read(off, ByteBuffer.wrap(buf, o, len));
    }

    @Override
    public void write(long off, byte[] buf, int o, int len) {
        write(off, ByteBuffer.wrap(buf, o, len));
    }

    @Override
    public void read(long off, ByteBuffer dst) {
        int start = dst.position();
        try {
            while (dst.hasRemaining()) {
                if (ch.read(dst, off + (dst.position() - start)) < 0) {
                    throw new FsException(Errno.EIO, path + ": read past the end of the image at " + off);
                }
            }
        } catch (IOException e) {
            throw new FsException(Errno.EIO, path + ": read error at " + off + ": " + e.getMessage());
        }
    }

    @Override
    public void write(long off, ByteBuffer src) {
        int len = src.remaining();
        if (off < sb.blockSize() || off + len > sb.sizeBytes()) {
            throw new FsException(Errno.EIO, path + ": write of " + len + " bytes at " + off + " outside the data area");
        }
        int start = src.position();
        try {
            while (src.hasRemaining()) {
                ch.write(src, off + (src.position() - start));
            }
        } catch (IOException e) {
            throw new FsException(Errno.EIO, path + ": write error at " + off + ": " + e.getMessage());
        }
    }

    @Override
    public void startWrite(long off, long len) {
        if (hostSync != null) {
            hostSync.startWrite(off, len);
        }
    }

    @Override
    public void force() {
        try {
            ch.force(false);
        } catch (IOException e) {
            throw new FsException(Errno.EIO, path + ": flush failed: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            if (hostSync != null) {
                hostSync.close();
            }
            if (lock != null) {
                lock.release();
            }
            ch.close();
        } catch (IOException e) {
            throw new FsException(Errno.EIO, path + ": close failed: " + e.getMessage());
        }
    }
}
