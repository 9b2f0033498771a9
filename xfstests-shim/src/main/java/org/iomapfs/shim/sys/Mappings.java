package org.iomapfs.shim.sys;

import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;

/**
 * Helpers for {@code FileChannel.map} mappings: unmap at once (munmap through the buffer's cleaner, as fs-tests'
 * MountTest does, rather than at some GC: a live mapping keeps the mount busy and keeps pages pinned in the test's
 * address space), and read the bytes of a mapping's last page that lie past its limit (the part of the page beyond
 * end of file, which POSIX mmap requires to read as zeros and which Java's buffer limit hides).
 */
public final class Mappings {
    public static final int PAGE_SIZE = 4096;

    private static final sun.misc.Unsafe UNSAFE;
    private static final long ADDRESS_OFFSET;

    static {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            UNSAFE = (sun.misc.Unsafe) f.get(null);
            ADDRESS_OFFSET = UNSAFE.objectFieldOffset(Buffer.class.getDeclaredField("address"));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Mappings() { }

    /** munmap now. The buffer must not be used afterwards (an access would fault). */
    public static void unmap(MappedByteBuffer m) {
        UNSAFE.invokeCleaner(m);
    }

    /** The virtual address of a direct buffer's first byte. */
    public static long address(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        return UNSAFE.getLong(direct, ADDRESS_OFFSET);
    }

    /**
     * The bytes from the mapping's limit to the end of the page that holds its last byte. Safe only where that
     * page is backed (the page holding end of file is; a page wholly past end of file would SIGBUS).
     */
    public static byte[] tailOfLastPage(MappedByteBuffer m) {
        long end = address(m) + m.capacity();
        int n = (int) ((PAGE_SIZE - (end & (PAGE_SIZE - 1))) & (PAGE_SIZE - 1));
        byte[] out = new byte[n];
        UNSAFE.copyMemory(null, end, out, sun.misc.Unsafe.ARRAY_BYTE_BASE_OFFSET, n);
        return out;
    }
}
