/**
 * User mappings inside the engine process ({@link org.iomapfs.core.mm.MappedRegion}): what a FUSE daemon
 * cannot see of the kernel's mm, modelled so that the page-fault, GUP-pin and same-file-copy bugs can be
 * reproduced in process. Owns page-table entries only; folios belong to the page cache, faults go through
 * {@link org.iomapfs.core.xfs.XfsFileOps}. May not touch extents or the image.
 */
package org.iomapfs.core.mm;
