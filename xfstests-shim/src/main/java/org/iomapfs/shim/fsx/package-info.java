/**
 * fsx: the file system exerciser of fstests ({@code ltp/fsx.c}) in Java, run against a mounted iomapfs (or any
 * file system) as its own process: {@code java -cp ... org.iomapfs.shim.fsx.Fsx --help}. It owns the operation
 * mix, the shadow copy and its checks, the .fsxops log and its replay; {@code FsxLoop} runs it in rounds on fresh
 * files with a RESULT line, for compare. The libc calls it needs live in {@code org.iomapfs.shim.sys}.
 */
package org.iomapfs.shim.fsx;
