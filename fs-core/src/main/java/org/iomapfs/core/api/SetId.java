package org.iomapfs.core.api;

/**
 * Which of S_ISUID and S_ISGID a modification by a caller without CAP_FSETID takes away (setattr_should_drop_suidgid
 * and setattr_should_drop_sgid, fs/attr.c): setuid always; setgid when the group may execute, or else when the
 * caller is neither in the file's group nor has CAP_FSETID. Shared by every {@link Vfs#killSuidSgid}.
 */
public final class SetId {
    public static final int S_ISUID = 04000;
    public static final int S_ISGID = 02000;
    private static final int S_IXGRP = 010;

    private SetId() { }

    /** Whether {@code mode} has a bit a modification may take away. */
    public static boolean any(int mode) { return (mode & (S_ISUID | S_ISGID)) != 0; }

    /** Setgid on a file its group cannot execute: it goes only for a caller outside the group without CAP_FSETID. */
    public static boolean nonExecSgid(int mode) { return (mode & (S_ISGID | S_IXGRP)) == S_ISGID; }

    /** The bits to clear from {@code mode}; {@code callerOutsideGroup} decides a {@link #nonExecSgid} file. */
    public static int toKill(int mode, boolean callerOutsideGroup) {
        int kill = mode & S_ISUID;
        if ((mode & S_ISGID) != 0 && ((mode & S_IXGRP) != 0 || callerOutsideGroup)) {
            kill |= S_ISGID;
        }
        return kill;
    }
}
