/**
 * xfstests-shim: workloads modelled on fstests (holetest, xfs/559) that reach a mounted iomapfs only through
 * the operating system, and the compare/demo commands built on them.
 */
package org.iomapfs.shim;
