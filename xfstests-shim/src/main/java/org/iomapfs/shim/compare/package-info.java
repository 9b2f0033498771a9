/**
 * {@code iomapfs compare} and {@code iomapfs demo}: the shim's workloads against buggy and fixed mounts, side
 * by side, with the bug-fired counters read from the mounts' metrics. Mounts are made by the iomapfs CLI run as
 * a process; nothing here links the engine.
 */
package org.iomapfs.shim.compare;
