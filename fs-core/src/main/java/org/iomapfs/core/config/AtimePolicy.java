package org.iomapfs.core.config;

/**
 * When an access moves atime, per mount, as the kernel's mount flags decide it (fs/inode.c atime_needs_update and
 * relatime_need_update). FUSE inodes are S_NOATIME, so the kernel never applies these flags to a FUSE file itself:
 * the engine does, on the accesses that reach it. {@code nodiratime} (MNT_NODIRATIME) stops directory updates only.
 * A read-only mount updates nothing (IS_NOATIME includes SB_RDONLY, and touch_atime's __mnt_want_write fails);
 * the engine checks that itself.
 */
public record AtimePolicy(Mode mode, boolean nodiratime) {
    /** relatime (the kernel's default since 2.6.30: do_mount sets MNT_RELATIME unless noatime or strictatime). */
    public enum Mode { RELATIME, STRICTATIME, NOATIME }

    public static final AtimePolicy DEFAULT = new AtimePolicy(Mode.RELATIME, false);

    /** relatime's bound on how stale atime may get on an unchanged inode (relatime_need_update: 24*60*60 s). */
    public static final long RELATIME_MAX_AGE_NS = 24L * 3600 * 1_000_000_000L;

    public AtimePolicy {
        if (mode == null) {
            throw new IllegalArgumentException("atime mode is required");
        }
    }

    /** The mode of a mount option: relatime, strictatime or noatime; IllegalArgumentException otherwise. */
    public static Mode mode(String option) {
        return switch (option) {
            case "relatime" -> Mode.RELATIME;
            case "strictatime" -> Mode.STRICTATIME;
            case "noatime" -> Mode.NOATIME;
            default -> throw new IllegalArgumentException("bad atime mode '" + option
                + "' (relatime, strictatime or noatime)");
        };
    }

    /**
     * atime_needs_update for an inode with these times at {@code nowNs}: never under noatime, nor for a directory
     * under nodiratime; under relatime only when atime is not after mtime or ctime, or is a day old; and never
     * when atime already is now.
     */
    public boolean needsUpdate(boolean directory, long atimeNs, long mtimeNs, long ctimeNs, long nowNs) {
        if (mode == Mode.NOATIME || (nodiratime && directory)) {
            return false;
        }
        if (mode == Mode.RELATIME && atimeNs > mtimeNs && atimeNs > ctimeNs
                && nowNs - atimeNs < RELATIME_MAX_AGE_NS) {
            return false;
        }
        return atimeNs != nowNs;
    }

    /** The mount options this policy stands for, as /proc/mounts would show them. */
    @Override
    public String toString() {
        return mode.name().toLowerCase(java.util.Locale.ROOT) + (nodiratime ? ",nodiratime" : "");
    }
}
