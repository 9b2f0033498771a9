/**
 * Workloads in which a read or write system call copies to or from a file-backed mapping on the mount, so that
 * page faults (and, for O_DIRECT, get_user_pages pinning) happen on iomapfs pages inside another iomapfs I/O:
 * {@link org.iomapfs.shim.mapping.MmapRwFault} (fstests src/mmap-rw-fault.c, generic/647: the same file) and
 * {@link org.iomapfs.shim.mapping.DirectIntoMapping} (O_DIRECT from one file into a MAP_SHARED mapping of
 * another). Each is a picocli main run as its own process; each checks what the daemon holds after fsync and a
 * kernel cache drop.
 */
package org.iomapfs.shim.mapping;
