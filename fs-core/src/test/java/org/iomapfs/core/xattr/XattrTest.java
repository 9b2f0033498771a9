package org.iomapfs.core.xattr;

import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.api.Vfs;
import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.store.Mkfs;
import org.iomapfs.core.store.MvMetaStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Extended attributes as setxattr(2), getxattr(2), listxattr(2) and removexattr(2) on xfs see them. */
class XattrTest {
    @TempDir
    Path dir;
    IomapFs fs;

    IomapFs mount() {
        fs = IomapFs.open(dir.resolve("img"), EngineConfig.defaults().withWritebackIntervalMs(0));
        return fs;
    }

    @AfterEach
    void close() {
        if (fs != null) {
            fs.close();
        }
    }

    private static void assertErrno(Errno want, Executable call) {
        assertEquals(want, assertThrows(FsException.class, call).errno());
    }

    @Test
    void xattrsSurviveRemountAndGoWithTheirInode() {
        Mkfs.format(dir.resolve("img"), 64 << 20, 4096, true);
        mount();
        fs.release(fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0));
        fs.mkdir("/d", 0755, 0, 0);
        fs.setxattr("/f", "user.b", "two".getBytes(), 0);
        fs.setxattr("/f", "user.a", new byte[0], 0);
        fs.setxattr("/f", "trusted.t", new byte[Xattrs.SIZE_MAX], 0);
        fs.setxattr("/d", "security.s", "dir".getBytes(), 0);
        fs.close();
        mount();
        assertEquals(List.of("trusted.t", "user.a", "user.b"), fs.listxattr("/f"), "names in order, after remount");
        assertArrayEquals("two".getBytes(), fs.getxattr("/f", "user.b"));
        assertArrayEquals(new byte[0], fs.getxattr("/f", "user.a"), "an empty value is a value");
        assertEquals(Xattrs.SIZE_MAX, fs.getxattr("/f", "trusted.t").length);
        assertArrayEquals("dir".getBytes(), fs.getxattr("/d", "security.s"));
        long ino = fs.getattr("/f").ino();
        fs.unlink("/f");
        fs.close();
        fs = null;
        try (MvMetaStore store = MvMetaStore.open(MvMetaStore.metaPath(dir.resolve("img")), true)) {
            assertEquals(List.of(), store.listXattrs(ino), "the last unlink removes the inode's attributes");
        }
    }

    @Test
    void xattrErrnosAreTheKernels() {
        Mkfs.format(dir.resolve("img"), 64 << 20, 4096, true);
        mount();
        fs.release(fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0));
        fs.setxattr("/f", "user.a", "1".getBytes(), Vfs.XATTR_CREATE);
        assertErrno(Errno.EEXIST, () -> fs.setxattr("/f", "user.a", "2".getBytes(), Vfs.XATTR_CREATE));
        assertErrno(Errno.ENODATA, () -> fs.setxattr("/f", "user.b", "2".getBytes(), Vfs.XATTR_REPLACE));
        fs.setxattr("/f", "user.a", "3".getBytes(), Vfs.XATTR_REPLACE);
        assertArrayEquals("3".getBytes(), fs.getxattr("/f", "user.a"));
        assertErrno(Errno.ENODATA, () -> fs.getxattr("/f", "user.missing"));
        assertErrno(Errno.ENODATA, () -> fs.removexattr("/f", "user.missing"));
        assertErrno(Errno.E2BIG, () -> fs.setxattr("/f", "user.big", new byte[Xattrs.SIZE_MAX + 1], 0));
        assertErrno(Errno.ERANGE, () -> fs.setxattr("/f", "user." + "n".repeat(Xattrs.NAME_MAX), new byte[1], 0));
        assertErrno(Errno.EOPNOTSUPP, () -> fs.setxattr("/f", "system.posix_acl_access", new byte[4], 0));
        assertErrno(Errno.EOPNOTSUPP, () -> fs.getxattr("/f", "nonamespace"));
        assertErrno(Errno.EINVAL, () -> fs.setxattr("/f", "user.", new byte[1], 0));
        assertErrno(Errno.ENOENT, () -> fs.listxattr("/nofile"));
        fs.removexattr("/f", "user.a");
        assertEquals(List.of(), fs.listxattr("/f"));
    }

    @Test
    void setxattrAndRemovexattrChangeCtimeOnly() throws InterruptedException {
        Mkfs.format(dir.resolve("img"), 64 << 20, 4096, true);
        mount();
        fs.release(fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0));
        var before = fs.getattr("/f");
        Thread.sleep(2); // clock granularity: ctime must move past the creation time
        fs.setxattr("/f", "user.a", "1".getBytes(), 0);
        var afterSet = fs.getattr("/f");
        assertTrue(afterSet.ctimeNs() > before.ctimeNs(), "setxattr updates ctime");
        assertEquals(before.mtimeNs(), afterSet.mtimeNs(), "setxattr leaves mtime");
        Thread.sleep(2); // clock granularity: removexattr must land on a later ctime than setxattr
        fs.removexattr("/f", "user.a");
        assertTrue(fs.getattr("/f").ctimeNs() > afterSet.ctimeNs(), "removexattr updates ctime");
    }
}
