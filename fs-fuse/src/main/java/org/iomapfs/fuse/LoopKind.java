package org.iomapfs.fuse;

/** How requests are pulled from /dev/fuse: the fixed pool of Java threads ({@link SessionLoop}) or libfuse's fuse_loop_mt. */
public enum LoopKind { POOL, STOCK }
