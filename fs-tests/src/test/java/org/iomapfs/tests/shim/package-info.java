/**
 * The xfstests-shim workloads against real mounts, each in its own JVM: holetest's generic/344-346 matrix on a
 * fixed mount, and compare/demo in both directions (buggy loses data, fixed does not).
 */
package org.iomapfs.tests.shim;
