package org.iomapfs.fuse;

import org.iomapfs.core.api.FileAttr;
import org.iomapfs.core.api.FileType;

/**
 * access(2) on the engine's files, for mounts without default_permissions (the kernel then asks the daemon):
 * the owner, group or other bits that apply to the caller, and root's override as in the kernel's
 * generic_permission (fs/namei.c).
 */
final class Access {
    static final int R_OK = 4, W_OK = 2, X_OK = 1;

    private Access() { }

    /** 0 when the caller may do all of {@code mask}, else -EACCES. */
    static int check(FileAttr a, int mask, int uid, int gid) {
        if (mask == 0) {
            return 0;
        }
        int perm = a.mode();
        int granted;
        if (uid == 0) {
            // root: everything but executing a file nobody may execute
            granted = R_OK | W_OK | ((a.type() == FileType.DIRECTORY || (perm & 0111) != 0) ? X_OK : 0);
        } else if (uid == a.uid()) {
            granted = (perm >> 6) & 7;
        } else if (gid == a.gid()) {
            granted = (perm >> 3) & 7;
        } else {
            granted = perm & 7;
        }
        return (mask & ~granted) == 0 ? 0 : -FuseErrno.EACCES;
    }
}
