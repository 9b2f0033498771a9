package org.iomapfs.shim.io;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.MappedByteBuffer;

/** munmap for a {@link MappedByteBuffer}, which Java otherwise unmaps only at some garbage collection. */
public final class Mapping {
    private static final Object UNSAFE;
    private static final Method INVOKE_CLEANER;

    static {
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            UNSAFE = f.get(null);
            INVOKE_CLEANER = c.getMethod("invokeCleaner", java.nio.ByteBuffer.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Mapping() { }

    /**
     * Unmaps {@code m} now. Needed before a kernel cache drop: drop_caches leaves pages that are still mapped
     * in the page cache, so a read after it would not reach the daemon. {@code m} must not be used afterwards.
     */
    public static void unmap(MappedByteBuffer m) {
        try {
            INVOKE_CLEANER.invoke(UNSAFE, m);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("munmap failed: " + e, e);
        }
    }
}
