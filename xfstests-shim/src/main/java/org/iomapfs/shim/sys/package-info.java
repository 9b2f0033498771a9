/**
 * Operating-system plumbing shared by the shim's workloads: the libc calls Java lacks ({@code fallocate(2)},
 * extending {@code ftruncate(2)}, through jnr-ffi), prompt munmap of {@code FileChannel.map} mappings and a peek
 * past a mapping's limit into the rest of its last page, O_DIRECT-aligned buffers and the kernel cache drop that
 * makes the next read go to the daemon. Nothing here knows iomapfs; it works on any Linux file system.
 */
package org.iomapfs.shim.sys;
