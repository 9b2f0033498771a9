package org.iomapfs.fuse;

import com.kenai.jffi.MemoryIO;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * FUSE_HANDLE_KILLPRIV_V2 (protocol 7.33, Linux 5.11) for a libfuse 2.9 session, which speaks protocol 7.19 and
 * never offers it. Without it the kernel's fuse keeps SB_NOSEC off (fuse_fill_super), so before every write
 * file_remove_privs asks the daemon for security.capability (cap_inode_need_killpriv -> GETXATTR): two round
 * trips per write. With it process_init_reply sets SB_NOSEC, a regular file with neither setuid/setgid bits nor
 * security.capability gets S_NOSEC at its first write (fs/inode.c __file_remove_privs -> inode_has_no_xattr), and
 * later writes skip the query until an attribute refresh or a security.* setxattr clears S_NOSEC again.
 *
 * <p>In exchange the server clears setuid/setgid where the kernel leaves it to it: a WRITE with
 * FUSE_WRITE_KILL_SUIDGID, a SETATTR with FATTR_KILL_SUIDGID (truncate by a caller without CAP_FSETID, chown of a
 * non-directory), an OPEN or CREATE with FUSE_OPEN_KILL_SUIDGID (O_TRUNC), and a FALLOCATE by a caller without
 * CAP_FSETID, which the kernel no longer covers (fuse_file_fallocate -> file_modified). The kernel still removes
 * security.capability itself (notify_change with ATTR_KILL_PRIV -> REMOVEXATTR). The rule for the bits is the
 * VFS's (setattr_should_drop_suidgid): setuid always; setgid if the group may execute, or else if the caller is
 * neither in the file's group nor has CAP_FSETID. (The protocol text says "sgid only with group execute"; the
 * kernel's own rule also drops it for a caller outside the group, which fstests generic/683-685 check.)
 *
 * <p>libfuse 2.9 builds the INIT reply from the flags it knows, so {@link InitReply} adds the flag on the way out
 * when the kernel offered it.
 */
final class KillPrivV2 {
    static final int FUSE_SETATTR = 4, FUSE_OPEN = 14, FUSE_WRITE = 16, FUSE_CREATE = 35,
        FUSE_FALLOCATE = 43;
    private static final int CAP_FSETID = 4;
    static final int FUSE_HANDLE_KILLPRIV_V2 = 1 << 28;
    static final int FUSE_WRITE_KILL_SUIDGID = 1 << 2;
    static final int FATTR_KILL_SUIDGID = 1 << 11;
    static final int FUSE_OPEN_KILL_SUIDGID = 1;
    // struct fuse_in_header {u32 len, opcode; u64 unique, nodeid; u32 uid, gid, pid, padding} is 40 bytes; then
    // fuse_write_in {u64 fh, offset; u32 size, write_flags}, fuse_setattr_in {u32 valid, ...},
    // fuse_open_in {u32 flags, open_flags}, fuse_create_in {u32 flags, mode, umask, open_flags}
    private static final int IN_OPCODE = 4, IN_NODEID = 16, IN_GID = 28, IN_PID = 32, IN_ARG = 40;

    private final long sessionChannel;
    private final InitReply init;

    KillPrivV2(long sessionChannel, InitReply init) {
        this.sessionChannel = sessionChannel;
        this.init = init;
    }

    /** Whether the kernel accepted the flag: it was offered and the INIT reply carried it. */
    boolean negotiated() {
        return init.granted(FUSE_HANDLE_KILLPRIV_V2);
    }

    /**
     * Whether thread {@code tid} lacks CAP_FSETID in its effective set ({@code /proc/TID/status} CapEff), when the
     * VFS clears setuid/setgid on a modification (setattr_should_drop_suidgid, fs/attr.c). FALLOCATE carries no
     * kill flag, and with KILLPRIV_V2 fuse_setattr drops the kill that file_modified asks for, so the server
     * decides by the caller's capabilities itself. A thread that is gone counts as lacking it (an unprivileged
     * caller's outcome: the bits go).
     */
    private static boolean lacksFsetid(int tid) {
        return lacksFsetid(status(tid));
    }

    private static boolean lacksFsetid(List<String> status) {
        String cap = field(status, "CapEff:");
        try {
            return cap == null || (Long.parseUnsignedLong(cap, 16) & (1L << CAP_FSETID)) == 0;
        } catch (NumberFormatException e) {
            return true;
        }
    }

    /**
     * in_group_or_capable (fs/attr.c) for the caller of the request at {@code req} and the file's group {@code gid}:
     * its fsgid (fuse_in_header.gid) or a supplementary group ({@code /proc/TID/status} Groups) is {@code gid}, or
     * it has CAP_FSETID. Decides whether a setgid file the group cannot execute loses its setgid
     * (setattr_should_drop_sgid); a thread that is gone counts as neither.
     */
    boolean inGroupOrCapable(long req, int gid) {
        MemoryIO io = MemoryIO.getInstance();
        if (io.getInt(req + IN_GID) == gid) {
            return true;
        }
        List<String> status = status(io.getInt(req + IN_PID));
        String groups = field(status, "Groups:");
        if (groups != null && !groups.isEmpty()) {
            for (String g : groups.split("\\s+")) {
                if (g.equals(Integer.toUnsignedString(gid))) {
                    return true;
                }
            }
        }
        return !lacksFsetid(status);
    }

    /** The lines of {@code /proc/TID/status}, none if the thread is gone. */
    private static List<String> status(int tid) {
        try {
            return Files.readAllLines(Path.of("/proc", Integer.toString(tid), "status"));
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The value of one status line, stripped, or null if it is absent. */
    private static String field(List<String> status, String name) {
        for (String line : status) {
            if (line.startsWith(name)) {
                return line.substring(name.length()).strip();
            }
        }
        return null;
    }

    /** Whether the FALLOCATE at {@code req} clears setuid/setgid: negotiated and a caller without CAP_FSETID. */
    boolean fallocateKills(long req) {
        return negotiated() && lacksFsetid(MemoryIO.getInstance().getInt(req + IN_PID));
    }

    /**
     * Whether the request at {@code req} asks the server to clear setuid/setgid (only once negotiated). Read before
     * libfuse processes it: do_setattr masks {@code fuse_setattr_in.valid} in place to the bits it knows.
     */
    boolean requested(long req) {
        if (!negotiated()) {
            return false;
        }
        MemoryIO io = MemoryIO.getInstance();
        return switch (io.getInt(req + IN_OPCODE)) {
            case FUSE_WRITE -> (io.getInt(req + IN_ARG + 20) & FUSE_WRITE_KILL_SUIDGID) != 0;
            case FUSE_SETATTR -> (io.getInt(req + IN_ARG) & FATTR_KILL_SUIDGID) != 0;
            case FUSE_OPEN -> (io.getInt(req + IN_ARG + 4) & FUSE_OPEN_KILL_SUIDGID) != 0;
            case FUSE_CREATE -> (io.getInt(req + IN_ARG + 12) & FUSE_OPEN_KILL_SUIDGID) != 0;
            default -> false;
        };
    }

    /**
     * The request at {@code req} cleared setuid/setgid: after a WRITE, OPEN or FALLOCATE the kernel keeps the mode it cached
     * for the attribute timeout (a write invalidates only size and times, fuse_write_update_attr), so its node's
     * attributes are invalidated (FUSE_NOTIFY_INVAL_INODE with offset -1, safe from the request thread, see
     * {@link AtimeAttrs}). A SETATTR's or CREATE's reply carries the new attributes itself.
     */
    void killed(long req) {
        MemoryIO io = MemoryIO.getInstance();
        int opcode = io.getInt(req + IN_OPCODE);
        long node = io.getLong(req + IN_NODEID);
        if ((opcode == FUSE_WRITE || opcode == FUSE_OPEN || opcode == FUSE_FALLOCATE) && node != 0) {
            Native.fuse().fuse_lowlevel_notify_inval_inode(sessionChannel, node, -1, 0);
        }
    }
}
