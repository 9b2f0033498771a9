/**
 * What every shim workload needs from the operating system: munmap, reads that reach the daemon (O_DIRECT,
 * kernel cache drop), the mount's control files and metrics, run budgets and the RESULT line.
 */
package org.iomapfs.shim.io;
