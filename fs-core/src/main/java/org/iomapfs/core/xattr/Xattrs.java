package org.iomapfs.core.xattr;

import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.store.MetaStore;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Extended attributes of an inode, kept in the metadata store ({@code x.INO}) and changed in one metadata
 * update with the inode's ctime, as xfs_attr_set does (xfs_trans_ichgtime with XFS_ICHGTIME_CHG). The
 * namespaces are those of a disk file system without POSIX ACLs: {@code user.}, {@code trusted.} and
 * {@code security.}; the kernel checks the caller's rights to each before the request reaches the daemon
 * (fs/xattr.c xattr_permission: user.* only on regular files and directories, trusted.* needs CAP_SYS_ADMIN).
 * Set and remove hold i_rwsem exclusive, as vfs_setxattr / vfs_removexattr hold inode_lock, so the
 * XATTR_CREATE / XATTR_REPLACE check and the change are one step.
 */
public final class Xattrs {
    /** XATTR_NAME_MAX (include/uapi/linux/limits.h). */
    public static final int NAME_MAX = 255;
    /** XATTR_SIZE_MAX: the largest value setxattr(2) accepts. */
    public static final int SIZE_MAX = 65536;
    private static final List<String> NAMESPACES = List.of("user.", "trusted.", "security.");

    private final MetaStore store;

    public Xattrs(MetaStore store) {
        this.store = store;
    }

    /** Refuses names the engine cannot keep: too long, another namespace, or nothing after the prefix. */
    private static void checkName(String name) {
        if (name.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
            throw new FsException(Errno.ERANGE, "extended attribute name longer than " + NAME_MAX + " bytes");
        }
        String ns = NAMESPACES.stream().filter(name::startsWith).findFirst().orElse(null);
        if (ns == null) {
            // system.* holds POSIX ACLs, which the engine does not model; any other prefix is no namespace at all
            throw new FsException(Errno.EOPNOTSUPP, "extended attribute '" + name
                + "': unsupported namespace (user., trusted. and security. are)");
        }
        if (name.length() == ns.length()) {
            throw new FsException(Errno.EINVAL, "extended attribute name '" + name + "' is empty after its namespace");
        }
    }

    public void set(Inode in, String name, byte[] value, int flags) {
        checkName(name);
        if (value.length > SIZE_MAX) {
            throw new FsException(Errno.E2BIG, "extended attribute value of " + value.length + " bytes is over "
                + SIZE_MAX);
        }
        if ((flags & ~(Vfs.XATTR_CREATE | Vfs.XATTR_REPLACE)) != 0) {
            throw new FsException(Errno.EINVAL, "bad setxattr flags " + flags);
        }
        in.iRwsem.writeLock().lock();
        try {
            store.update(() -> {
                boolean exists = store.getXattr(in.ino, name) != null;
                if (exists && (flags & Vfs.XATTR_CREATE) != 0) {
                    throw new FsException(Errno.EEXIST, "extended attribute " + name + " exists (XATTR_CREATE)");
                }
                if (!exists && (flags & Vfs.XATTR_REPLACE) != 0) {
                    throw new FsException(Errno.ENODATA, "no extended attribute " + name + " (XATTR_REPLACE)");
                }
                store.putXattr(in.ino, name, value);
                in.touchCtimeOnly();
                in.persist(store);
            });
        } finally {
            in.iRwsem.writeLock().unlock();
        }
    }

    public byte[] get(Inode in, String name) {
        checkName(name);
        byte[] v = store.getXattr(in.ino, name);
        if (v == null) {
            throw FsException.answer(Errno.ENODATA, "no extended attribute " + name);
        }
        return v;
    }

    public List<String> list(Inode in) {
        return store.listXattrs(in.ino);
    }

    public void remove(Inode in, String name) {
        checkName(name);
        in.iRwsem.writeLock().lock();
        try {
            store.update(() -> {
                if (!store.removeXattr(in.ino, name)) {
                    throw new FsException(Errno.ENODATA, "no extended attribute " + name);
                }
                in.touchCtimeOnly();
                in.persist(store);
            });
        } finally {
            in.iRwsem.writeLock().unlock();
        }
    }
}
