/**
 * Operating-system plumbing shared by the shim's workloads, beside {@code org.iomapfs.shim.io}: the libc calls
 * Java lacks ({@code fallocate(2)}, extending {@code ftruncate(2)}, through jnr-ffi), prompt munmap of
 * {@code FileChannel.map} mappings, a peek past a mapping's limit into the rest of its last page, O_DIRECT-aligned buffers, whole files as the daemon holds them as byte
 * arrays, and the picocli conventions of these workloads (one-line argument errors, exit 2, sizes like 256k).
 * Nothing here knows iomapfs; it works on any Linux file system.
 */
package org.iomapfs.shim.sys;
