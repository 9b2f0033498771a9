package org.iomapfs.core.namespace;

import org.iomapfs.core.api.DirEntry;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.hooks.HookPoint;
import org.iomapfs.core.hooks.Hooks;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.store.InodeRecord;
import org.iomapfs.core.store.MetaStore;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.iomapfs.core.lockdep.LockOrder;
import org.iomapfs.core.lockdep.TrackedRwLock;
import java.util.function.Function;
import java.util.function.LongFunction;

/**
 * The directory tree: path lookup, create, link, unlink, rename, mkdir, rmdir, symlink. One rwsem guards
 * all directory changes (first in the lock order). Dropping the last link only removes the name, under the
 * namespace lock and inside a metadata update; the inode is evicted afterwards by {@code evict}, holding
 * neither (iput_final -> evict runs after the directory's i_rwsem is released, in do_unlinkat and
 * vfs_rename), because eviction waits for writeback, which I/O completion ends only after committing. An
 * inode whose last link goes while it is open stays as an orphan until its last close.
 */
public final class Namespace {
    public static final int NAME_MAX = 255;
    private static final int S_ISGID = 02000;

    public final TrackedRwLock lock = new TrackedRwLock(LockOrder.NAMESPACE);
    private final MetaStore store;
    private final LongFunction<Inode> inodes;
    private final Function<InodeRecord, Inode> instantiate;
    private final java.util.function.Consumer<Inode> evict;
    private final Hooks hooks;
    private final DentryCache dcache = new DentryCache();

    public Namespace(MetaStore store, LongFunction<Inode> inodes, Function<InodeRecord, Inode> instantiate,
                     java.util.function.Consumer<Inode> evict, Hooks hooks) {
        this.store = store;
        this.inodes = inodes;
        this.instantiate = instantiate;
        this.evict = evict;
        this.hooks = hooks;
    }

    private static List<String> split(String path) {
        if (path == null || !path.startsWith("/")) {
            throw new FsException(Errno.EINVAL, "path must be absolute: " + path);
        }
        List<String> parts = new ArrayList<>();
        for (String p : path.split("/")) {
            if (p.isEmpty() || p.equals(".")) {
                continue;
            }
            if (p.length() > NAME_MAX) {
                throw new FsException(Errno.ENAMETOOLONG, "name longer than " + NAME_MAX + ": " + p.substring(0, 32) + "...");
            }
            parts.add(p);
        }
        return parts;
    }

    /**
     * The inode at path (symlinks are not followed: FUSE resolves them in the kernel): from the dentry cache
     * without the namespace lock if it holds a valid entry, else walked under the lock and cached.
     */
    public Inode resolve(String path) {
        Inode cached = dcache.lookup(path);
        if (cached != null) {
            return cached;
        }
        Inode found;
        long seq;
        lock.readLock().lock();
        try {
            seq = dcache.seq();
            found = walk(split(path), path);
        } finally {
            lock.readLock().unlock();
        }
        hooks.fire(HookPoint.DCACHE_FILL, found, seq);
        dcache.add(path, found, seq);
        return found;
    }

    private Inode walk(List<String> parts, String path) {
        Inode cur = inodes.apply(Vfs.ROOT_INO);
        List<Inode> stack = new ArrayList<>();
        for (String p : parts) {
            if (cur.type != FileType.DIRECTORY) {
                throw new FsException(Errno.ENOTDIR, path + ": a component is not a directory");
            }
            if (p.equals("..")) {
                cur = stack.isEmpty() ? cur : stack.remove(stack.size() - 1);
                continue;
            }
            Long ino = cur.entries.get(p);
            if (ino == null) {
                throw FsException.answer(Errno.ENOENT, path + ": no such file or directory");
            }
            stack.add(cur);
            cur = inodes.apply(ino);
        }
        return cur;
    }

    private record Parent(Inode dir, String name) { }

    private Parent parent(String path) {
        List<String> parts = split(path);
        if (parts.isEmpty()) {
            throw new FsException(Errno.EEXIST, "/ already exists");
        }
        String name = parts.remove(parts.size() - 1);
        if (name.equals("..")) {
            throw new FsException(Errno.EINVAL, path + ": cannot use '..' as a name");
        }
        Inode dir = walk(parts, path);
        if (dir.type != FileType.DIRECTORY) {
            throw new FsException(Errno.ENOTDIR, path + ": parent is not a directory");
        }
        return new Parent(dir, name);
    }

    public List<DirEntry> readdir(String path) {
        lock.readLock().lock();
        try {
            Inode dir = walk(split(path), path);
            if (dir.type != FileType.DIRECTORY) {
                throw new FsException(Errno.ENOTDIR, path + ": not a directory");
            }
            List<DirEntry> out = new ArrayList<>();
            for (Map.Entry<String, Long> e : dir.entries.entrySet()) {
                Inode i = inodes.apply(e.getValue());
                out.add(new DirEntry(e.getKey(), e.getValue(), i.type));
            }
            return out;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Creates an inode of {@code type} at path; EEXIST if the name is taken. */
    public Inode create(String path, FileType type, int mode, int uid, int gid, String symlinkTarget) {
        return create(path, type, mode, uid, gid, symlinkTarget, 0);
    }

    /** As {@link #create(String, FileType, int, int, int, String)}, for a device node with its {@code rdev}. */
    public Inode create(String path, FileType type, int mode, int uid, int gid, String symlinkTarget, long rdev) {
        lock.writeLock().lock();
        try {
            Parent p = parent(path);
            if (p.dir.entries.containsKey(p.name)) {
                throw new FsException(Errno.EEXIST, path + ": already exists");
            }
            long now = Inode.now();
            // inode_init_owner: a setgid directory hands down its group, and its setgid bit to subdirectories (the
            // VFS has already stripped S_ISGID from a file the caller may not have it on: vfs_prepare_mode)
            boolean setgidDir = (p.dir.mode() & S_ISGID) != 0;
            int newGid = setgidDir ? p.dir.gid() : gid;
            int newMode = (mode & 07777) | (setgidDir && type == FileType.DIRECTORY ? S_ISGID : 0);
            Inode inode = store.update(() -> {
                long ino = store.allocateIno();
                InodeRecord r = new InodeRecord(ino, type, newMode, uid, newGid, type == FileType.DIRECTORY ? 2 : 1,
                        0, now, now, now, symlinkTarget, rdev);
                Inode in = instantiate.apply(r);
                in.persist(store);
                p.dir.entries.put(p.name, ino);
                store.putDirent(p.dir.ino, p.name, ino);
                if (type == FileType.DIRECTORY) {
                    p.dir.setNlink(p.dir.nlink() + 1);
                }
                p.dir.touchMtime();
                p.dir.persist(store);
                return in;
            });
            return inode;
        } finally {
            lock.writeLock().unlock();
        }
    }

    public void unlink(String path) {
        removeName(path, false);
    }

    public void rmdir(String path) {
        removeName(path, true);
    }

    /**
     * unlink(2) and rmdir(2): drops the name under the namespace lock in one metadata update, then evicts the
     * inode if that was its last link and opener, holding nothing (do_unlinkat / do_rmdir -> iput).
     */
    private void removeName(String path, boolean dir) {
        Inode gone;
        lock.writeLock().lock();
        try {
            dcache.invalidate(); // removes or replaces a name (DentryCache's rule)
            Parent p = parent(path);
            Inode victim = child(p, path);
            if (!dir && victim.type == FileType.DIRECTORY) {
                throw new FsException(Errno.EISDIR, path + ": is a directory");
            }
            if (dir && victim.type != FileType.DIRECTORY) {
                throw new FsException(Errno.ENOTDIR, path + ": not a directory");
            }
            if (dir && !victim.entries.isEmpty()) {
                throw new FsException(Errno.ENOTEMPTY, path + ": directory not empty");
            }
            gone = store.update(() -> removeEntry(p.dir, p.name, victim));
        } finally {
            lock.writeLock().unlock();
        }
        iput(gone);
    }

    /** iput_final: evicts an inode whose last link and last opener are gone. The caller holds no lock. */
    private void iput(Inode gone) {
        if (gone != null) {
            evict.accept(gone);
        }
    }

    /** The inode a parent's entry names; ENOENT if there is none. */
    private Inode child(Parent p, String path) {
        Long ino = p.dir.entries.get(p.name);
        if (ino == null) {
            throw FsException.answer(Errno.ENOENT, path + ": no such file or directory");
        }
        return inodes.apply(ino);
    }

    /**
     * Drops one link. Inside an update, namespace lock held. Returns the victim if that was its last link and
     * nobody has it open, for the caller to evict once it has released both; null otherwise.
     */
    private Inode removeEntry(Inode dir, String name, Inode victim) {
        dir.entries.remove(name);
        store.removeDirent(dir.ino, name);
        dir.touchMtime();
        dir.persist(store);
        int nl = victim.type == FileType.DIRECTORY ? 0 : victim.nlink() - 1;
        if (victim.type == FileType.DIRECTORY) {
            dir.setNlink(dir.nlink() - 1);
            dir.persist(store);
        }
        victim.setNlink(nl);
        victim.persist(store);
        return nl == 0 && victim.openCount == 0 ? victim : null;
    }

    public void link(String existing, String newPath) {
        lock.writeLock().lock();
        try {
            Inode target = walk(split(existing), existing);
            if (target.type == FileType.DIRECTORY) {
                throw new FsException(Errno.EPERM, existing + ": hard links to directories are not allowed");
            }
            Parent p = parent(newPath);
            if (p.dir.entries.containsKey(p.name)) {
                throw new FsException(Errno.EEXIST, newPath + ": already exists");
            }
            store.update(() -> {
                p.dir.entries.put(p.name, target.ino);
                store.putDirent(p.dir.ino, p.name, target.ino);
                p.dir.touchMtime();
                p.dir.persist(store);
                target.setNlink(target.nlink() + 1);
                target.persist(store);
            });
        } finally {
            lock.writeLock().unlock();
        }
    }

    public void rename(String from, String to) {
        Inode gone;
        lock.writeLock().lock();
        try {
            dcache.invalidate(); // removes or replaces a name (DentryCache's rule)
            Parent src = parent(from);
            Parent dst = parent(to);
            Long ino = src.dir.entries.get(src.name);
            if (ino == null) {
                throw new FsException(Errno.ENOENT, from + ": no such file or directory");
            }
            Inode moving = inodes.apply(ino);
            if (moving.type == FileType.DIRECTORY && isAncestor(moving, dst.dir)) {
                throw new FsException(Errno.EINVAL, to + ": cannot move a directory into itself");
            }
            Long existing = dst.dir.entries.get(dst.name);
            if (existing != null && existing.longValue() == ino) {
                return;
            }
            Inode replaced = existing == null ? null : inodes.apply(existing);
            if (replaced != null) {
                if (moving.type == FileType.DIRECTORY && replaced.type != FileType.DIRECTORY) {
                    throw new FsException(Errno.ENOTDIR, to + ": not a directory");
                }
                if (moving.type != FileType.DIRECTORY && replaced.type == FileType.DIRECTORY) {
                    throw new FsException(Errno.EISDIR, to + ": is a directory");
                }
                if (replaced.type == FileType.DIRECTORY && !replaced.entries.isEmpty()) {
                    throw new FsException(Errno.ENOTEMPTY, to + ": directory not empty");
                }
            }
            gone = store.update(() -> {
                Inode dropped = replaced == null ? null : removeEntry(dst.dir, dst.name, replaced);
                src.dir.entries.remove(src.name);
                store.removeDirent(src.dir.ino, src.name);
                dst.dir.entries.put(dst.name, ino);
                store.putDirent(dst.dir.ino, dst.name, ino);
                if (moving.type == FileType.DIRECTORY && src.dir != dst.dir) {
                    src.dir.setNlink(src.dir.nlink() - 1);
                    dst.dir.setNlink(dst.dir.nlink() + 1);
                }
                src.dir.touchMtime();
                dst.dir.touchMtime();
                src.dir.persist(store);
                dst.dir.persist(store);
                // only the moved inode's ctime (xfs_rename: xfs_trans_ichgtime(src_ip, XFS_ICHGTIME_CHG)); its mtime
                // is its data's (fstests generic/003 "after changing file1")
                moving.touchCtimeOnly();
                moving.persist(store);
                return dropped;
            });
        } finally {
            lock.writeLock().unlock();
        }
        iput(gone);
    }

    private boolean isAncestor(Inode dir, Inode maybeChild) {
        if (dir == maybeChild) {
            return true;
        }
        for (Long child : dir.entries.values()) {
            Inode c = inodes.apply(child);
            if (c.type == FileType.DIRECTORY && isAncestor(c, maybeChild)) {
                return true;
            }
        }
        return false;
    }
}
