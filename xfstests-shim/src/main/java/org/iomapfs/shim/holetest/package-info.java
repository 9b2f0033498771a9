/**
 * holetest (fstests src/holetest.c; generic/344, 345, 346) against a mounted iomapfs, checked through the
 * mapping and through the daemon; its loop mode is the compare runner's pwrite-vs-mmap and mmap-vs-mmap race.
 */
package org.iomapfs.shim.holetest;
