package org.iomapfs.fuse.floor;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.SetId;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.TreeMap;
import java.util.function.IntPredicate;

/**
 * One file, directory or symlink of {@link FloorVfs}. The data sits in chunks; a chunk never written (or
 * punched whole) is a hole and reads as zeros. Data, size and attributes are guarded by this object's monitor;
 * {@code children}, {@code nlink} and {@code openCount} by the namespace's ({@link FloorVfs}).
 */
final class FloorInode {
    private static final int CHUNK = 64 << 10;
    private static final long MAX_FILE = 1L << 40;
    private static final byte[] ZEROS = new byte[CHUNK];

    final long ino;
    final FileType type;
    final TreeMap<String, FloorInode> children = new TreeMap<>();
    int mode, uid, gid, nlink, openCount;
    long atime, mtime, ctime, size;
    String target;
    private byte[][] chunks = new byte[0][];
    private long allocated;

    FloorInode(long ino, FileType type, int mode, int uid, int gid) {
        this.ino = ino;
        this.type = type;
        this.mode = mode;
        this.uid = uid;
        this.gid = gid;
        this.nlink = type == FileType.DIRECTORY ? 2 : 1;
        atime = mtime = ctime = FloorVfs.now();
    }

    synchronized FileAttr attr() {
        long sz = type == FileType.SYMLINK ? target.length() : size;
        return new FileAttr(ino, type, mode, nlink, uid, gid, sz, allocated * (CHUNK / 512), 4096, atime, mtime,
            ctime);
    }

    /** {@link SetId#toKill}; the predicate is asked holding this monitor (the floor has no lock order). */
    synchronized boolean killSuidSgid(IntPredicate inGroupOrCapable) {
        int kill = SetId.toKill(mode, SetId.nonExecSgid(mode) && !inGroupOrCapable.test(gid));
        if (kill == 0) {
            return false;
        }
        mode &= ~kill;
        ctime = FloorVfs.now();
        return true;
    }

    synchronized void resize(long newSize) {
        if (newSize > MAX_FILE) {
            throw FloorVfs.fail(Errno.EFBIG, "the floor keeps files below 1 TiB");
        }
        if (newSize < size) {
            zero(newSize, size);
        }
        size = newSize;
        mtime = ctime = FloorVfs.now();
    }

    /** Zeroes [from, to) below the size: whole chunks become holes. */
    synchronized void zero(long from, long to) {
        for (long off = from; off < Math.min(to, size); ) {
            int ci = (int) (off / CHUNK);
            int in = (int) (off % CHUNK);
            int n = (int) Math.min(CHUNK - in, to - off);
            if (ci < chunks.length && chunks[ci] != null) {
                if (n == CHUNK) {
                    chunks[ci] = null;
                    allocated--;
                } else {
                    Arrays.fill(chunks[ci], in, in + n, (byte) 0);
                }
            }
            off += n;
        }
    }

    synchronized int read(long offset, ByteBuffer dst) {
        int total = (int) Math.max(0, Math.min(dst.remaining(), size - offset));
        for (int done = 0; done < total; ) {
            long off = offset + done;
            int ci = (int) (off / CHUNK);
            int in = (int) (off % CHUNK);
            int n = Math.min(CHUNK - in, total - done);
            byte[] c = ci < chunks.length && chunks[ci] != null ? chunks[ci] : ZEROS;
            dst.put(c, c == ZEROS ? 0 : in, n);
            done += n;
        }
        return total;
    }

    /** Copies {@code src} in at {@code offset} (-1: at the end of the file). */
    synchronized int store(long offset, ByteBuffer src) {
        long at = offset < 0 ? size : offset;
        int total = src.remaining();
        if (at + total > MAX_FILE) {
            throw FloorVfs.fail(Errno.EFBIG, "the floor keeps files below 1 TiB");
        }
        int last = (int) ((at + total + CHUNK - 1) / CHUNK);
        if (last > chunks.length) {
            chunks = Arrays.copyOf(chunks, Math.max(last, chunks.length * 2));
        }
        for (int done = 0; done < total; ) {
            long off = at + done;
            int ci = (int) (off / CHUNK);
            int in = (int) (off % CHUNK);
            int n = Math.min(CHUNK - in, total - done);
            if (chunks[ci] == null) {
                chunks[ci] = new byte[CHUNK];
                allocated++;
            }
            src.get(chunks[ci], in, n);
            done += n;
        }
        size = Math.max(size, at + total);
        mtime = ctime = FloorVfs.now();
        return total;
    }
}
