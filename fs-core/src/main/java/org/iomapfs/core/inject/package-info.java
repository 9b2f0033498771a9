/**
 * Fault injection knobs (XFS error-tag style: delays, short copy-ins, writeback EIO, reclaim pressure), aimed
 * by inode, range and N-th occurrence. Acts only through {@link org.iomapfs.core.hooks.Hooks} and the page
 * cache budget; may not change engine logic.
 */
package org.iomapfs.core.inject;
