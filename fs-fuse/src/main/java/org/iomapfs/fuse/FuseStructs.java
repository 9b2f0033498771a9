package org.iomapfs.fuse;

import com.kenai.jffi.MemoryIO;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.StatFs;
import org.iomapfs.core.api.Vfs;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

import java.nio.ByteBuffer;

/**
 * Struct patching between libfuse 2.9 and the engine's records: {@code struct stat}, {@code struct statvfs},
 * the {@code struct timespec[2]} of utimens, the flags word of {@code struct fuse_operations}, and direct
 * buffers over libfuse's memory. {@code struct fuse_file_info} has its own class, {@link RawFileInfo}.
 */
final class FuseStructs {
    private static final long UTIME_NOW_NS = (1L << 30) - 1, UTIME_OMIT_NS = (1L << 30) - 2; // <sys/stat.h>
    // struct fuse_operations (libfuse 2.9 fuse.h): 38 callbacks, then the flag bitfield word, then 6 pointers
    private static final int OPS_FLAGS_OFFSET = 38 * 8;
    private static final int OPS_SIZE = OPS_FLAGS_OFFSET + 8 + 6 * 8;
    private static final int FLAG_NULLPATH_OK = 1, FLAG_NOPATH = 2, FLAG_UTIME_OMIT_OK = 4;

    private FuseStructs() { }

    /**
     * Sets flag_nopath (no paths computed for fh-based operations), flag_nullpath_ok (NULL paths of unlinked
     * open files, with hard_remove) and flag_utime_omit_ok (UTIME_NOW/UTIME_OMIT passed through).
     */
    static void setOperationFlags(Struct fuseOperations) {
        if (Struct.size(fuseOperations) != OPS_SIZE) {
            throw new IllegalStateException("unexpected struct fuse_operations size " + Struct.size(fuseOperations));
        }
        Pointer ops = Struct.getMemory(fuseOperations);
        ops.putInt(OPS_FLAGS_OFFSET, ops.getInt(OPS_FLAGS_OFFSET) | FLAG_NULLPATH_OK | FLAG_NOPATH | FLAG_UTIME_OMIT_OK);
    }

    static void fill(FileStat st, FileAttr a) {
        st.st_mode.set(a.stMode());
        st.st_ino.set(a.ino());
        st.st_nlink.set(a.nlink());
        st.st_rdev.set(a.rdev());
        st.st_uid.set(a.uid());
        st.st_gid.set(a.gid());
        st.st_size.set(a.size());
        st.st_blocks.set(a.blocks());
        st.st_blksize.set(a.blockSize());
        setTimes(st, a.atimeNs(), a.mtimeNs(), a.ctimeNs());
    }

    static void setTimes(FileStat st, long atimeNs, long mtimeNs, long ctimeNs) {
        setTime(st.st_atim, atimeNs);
        setTime(st.st_mtim, mtimeNs);
        setTime(st.st_ctim, ctimeNs);
    }

    private static void setTime(Timespec ts, long ns) {
        ts.tv_sec.set(Math.floorDiv(ns, 1_000_000_000L));
        ts.tv_nsec.set(Math.floorMod(ns, 1_000_000_000L));
    }

    static void fill(Statvfs st, StatFs s) {
        st.f_bsize.set(s.blockSize());
        st.f_frsize.set(s.blockSize());
        st.f_blocks.set(s.totalBlocks());
        st.f_bfree.set(s.freeBlocks());
        st.f_bavail.set(s.availBlocks());
        st.f_files.set(s.files());
        st.f_ffree.set(s.freeFiles());
        st.f_favail.set(s.freeFiles());
        st.f_namemax.set(s.nameMax());
    }

    /**
     * One time of utimens' {@code struct timespec[2]} (LP64: tv_sec @0, tv_nsec @8; the second at 16) in the
     * engine's terms; UTIME_NOW/UTIME_OMIT arrive as they are because flag_utime_omit_ok is set.
     */
    static long utimensNs(Pointer ts, int index) {
        if (ts == null) {
            return Vfs.UTIME_NOW;
        }
        int off = index * 16;
        long nsec = ts.getLong(off + 8);
        if (nsec == UTIME_NOW_NS) {
            return Vfs.UTIME_NOW;
        }
        if (nsec == UTIME_OMIT_NS) {
            return Vfs.UTIME_OMIT;
        }
        return ts.getLong(off) * 1_000_000_000L + nsec;
    }

    /** A WRITE payload: a view into the pool thread's receive buffer where there is one, else over the memory. */
    static ByteBuffer payload(Pointer p, long size) {
        long addr = p.address();
        ByteBuffer b = SessionLoop.viewIfWorker(addr, (int) size);
        return b != null ? b : directView(p, size);
    }

    /**
     * The reply of getxattr/listxattr (fuse_lib_getxattr, fuse_lib_listxattr): with {@code size} 0 only the
     * length, which the kernel asks for first; -ERANGE if the bytes do not fit; else the bytes copied and
     * their count.
     */
    static int xattrReply(byte[] bytes, Pointer buf, long size) {
        if (size == 0) {
            return bytes.length;
        }
        if (bytes.length > size) {
            return -FuseErrno.ERANGE;
        }
        buf.put(0, bytes, 0, bytes.length);
        return bytes.length;
    }

    /** A direct buffer over native memory, no copy (libfuse 2.9 mallocs the reply buffer per READ). */
    static ByteBuffer directView(Pointer p, long size) {
        return MemoryIO.getInstance().newDirectByteBuffer(p.address(), (int) size);
    }
}
