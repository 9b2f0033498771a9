/** xfs/559 against a mount: a long write ending one byte into a page that writeback and reclaim take away. */
package org.iomapfs.shim.partialblock;
