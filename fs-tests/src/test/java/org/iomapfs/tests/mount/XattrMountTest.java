package org.iomapfs.tests.mount;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Extended attributes through the mount (FUSE SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR): a value set on a file
 * reads back by name and by listing, survives an unmount and mount, and a missing one is ENODATA ("No data
 * available"), which fstests' attr tests (generic/020, 062) compare in their output.
 */
class XattrMountTest {
    @TempDir
    Path tmp;

    private static UserDefinedFileAttributeView view(Path p) {
        return Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
    }

    private static String get(Path p, String name) throws Exception {
        UserDefinedFileAttributeView v = view(p);
        ByteBuffer b = ByteBuffer.allocate(v.size(name));
        v.read(name, b);
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
    }

    @Test
    void userXattrsPersistAcrossRemountAndMissingOnesAreEnodata() throws Exception {
        LiveMount.assumeFuse("XattrMountTest");
        try (LiveMount m = LiveMount.start(tmp, "64M")) {
            Path f = m.mnt.resolve("f");
            Files.writeString(f, "data");
            view(f).write("colour", StandardCharsets.UTF_8.encode("blue"));
            view(f).write("big", ByteBuffer.wrap(new byte[60_000]));
            view(f).write("gone", StandardCharsets.UTF_8.encode("x"));
            view(f).delete("gone");
            assertEquals(List.of("big", "colour"), view(f).list().stream().sorted().toList());
            m.remount();
            assertEquals("blue", get(f, "colour"));
            assertEquals(60_000, view(f).size("big"));
            assertEquals(List.of("big", "colour"), view(f).list().stream().sorted().toList(), "after remount");
            FileSystemException e = assertThrows(FileSystemException.class, () -> view(f).size("missing"));
            assertTrue(String.valueOf(e.getReason()).contains("No data available"), e.toString());
        }
    }
}
