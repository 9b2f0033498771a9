/**
 * The fstests plumbing seen from outside, as fstests uses it: {@code mount -t fuse.iomapfs DEV MNT -o source=IMG}
 * through the mount(8) helper of xfstests-shim/fstests, {@code findmnt -S DEV}, {@code umount DEV}.
 */
package org.iomapfs.tests.fstests;
