package org.iomapfs.fuse;

import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * FUSE file handles of this mount: the number libfuse stores in {@code fuse_file_info.fh} is a slot index here.
 * Lookups (every READ and WRITE) are one volatile array read with no boxing; open and release take a lock.
 */
final class HandleTable {
    /** What one open file or directory of the mount is. */
    static final class Handle {
        final long engineFh;     // the Vfs handle, or -1 for control files and directories
        final int openFlags;
        final String dirPath;    // directories: the path opened (readdir gets no path with flag_nopath)
        final ControlTree.Node control; // control files and directories
        byte[] snapshot;         // control file: the value read at open, so that chunked reads agree
        byte[] written = new byte[0]; // control file: what this handle has written so far
        long ino = -1;           // engine files: the engine inode, for the kernel cache invalidation
        long nodeid;             // the FUSE node id last recorded for it (KernelInvalidator.seen)

        Handle(long engineFh, int openFlags, String dirPath, ControlTree.Node control) {
            this.engineFh = engineFh;
            this.openFlags = openFlags;
            this.dirPath = dirPath;
            this.control = control;
        }
    }

    private volatile AtomicReferenceArray<Handle> slots = new AtomicReferenceArray<>(1024);
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private int next = 1; // slot 0 stays empty so that a zeroed fh is never valid

    synchronized long add(Handle h) {
        int slot;
        if (!free.isEmpty()) {
            slot = free.pop();
        } else {
            slot = next++;
            if (slot >= slots.length()) {
                AtomicReferenceArray<Handle> bigger = new AtomicReferenceArray<>(slots.length() * 2);
                for (int i = 0; i < slots.length(); i++) {
                    bigger.set(i, slots.get(i));
                }
                slots = bigger;
            }
        }
        slots.set(slot, h);
        return slot;
    }

    Handle get(long fh) {
        AtomicReferenceArray<Handle> s = slots;
        return fh > 0 && fh < s.length() ? s.get((int) fh) : null;
    }

    synchronized Handle remove(long fh) {
        Handle h = get(fh);
        if (h != null) {
            slots.set((int) fh, null);
            free.push((int) fh);
        }
        return h;
    }

    synchronized int size() {
        return next - 1 - free.size();
    }
}
