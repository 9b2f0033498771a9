/**
 * What the holetest, partial-block and compare code shares: reads that reach the daemon (O_DIRECT, kernel
 * cache drop, on top of {@code sys}), the mount's control files and metrics, run budgets and the RESULT line.
 */
package org.iomapfs.shim.io;
