package org.iomapfs.core.store;

import org.iomapfs.core.config.EngineConfig;
import org.iomapfs.core.IomapFs;
import org.iomapfs.core.api.Errno;
import org.iomapfs.core.api.FsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

import static org.junit.jupiter.api.Assertions.*;

/** Bad images give one clear error with the right errno and leave every byte of the image and metadata as it was. */
class BadInputTest {
    @TempDir
    Path dir;

    static String digest(Path p) throws Exception {
        if (!Files.exists(p)) {
            return "absent";
        }
        return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    private void assertOpenFails(Path img, Errno errno, String messagePart) throws Exception {
        Path meta = MvMetaStore.metaPath(img);
        String before = digest(img) + digest(meta);
        FsException e = assertThrows(FsException.class, () -> IomapFs.open(img, EngineConfig.defaults()));
        assertEquals(errno, e.errno(), e.getMessage());
        assertTrue(e.getMessage().contains(messagePart), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one-line message");
        assertEquals(before, digest(img) + digest(meta), "image and metadata unchanged");
        FsException f = assertThrows(FsException.class, () -> Fsck.check(img));
        assertEquals(errno, f.errno());
        assertEquals(before, digest(img) + digest(meta), "fsck changed nothing");
    }

    @Test
    void missingImageIsENOENT() throws Exception {
        assertOpenFails(dir.resolve("nope"), Errno.ENOENT, "no such image");
    }

    @Test
    void fileOfAnotherFormatIsRejected() throws Exception {
        Path img = dir.resolve("ext4ish");
        byte[] junk = new byte[1 << 16];
        new java.util.Random(1).nextBytes(junk);
        Files.write(img, junk);
        assertOpenFails(img, Errno.EINVAL, "not an iomapfs image");
    }

    @Test
    void corruptSuperblockIsRejected() throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1 << 20, 4096, false);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(14);
            f.write(0x7f);
        }
        assertOpenFails(img, Errno.EINVAL, "checksum");
    }

    @Test
    void corruptMetadataStoreIsRejected() throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1 << 20, 4096, false);
        Files.write(MvMetaStore.metaPath(img), new byte[8192]);
        assertOpenFails(img, Errno.EINVAL, "meta");
    }

    @Test
    void missingMetadataFileIsENOENTAndNotCreated() throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1 << 20, 4096, false);
        Path meta = MvMetaStore.metaPath(img);
        Files.delete(meta);
        assertOpenFails(img, Errno.ENOENT, meta + ": metadata file is missing");
        assertFalse(Files.exists(meta), "a failed open must not create " + meta);
    }

    @Test
    void emptyMetadataFileIsRejected() throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1 << 20, 4096, false);
        Files.write(MvMetaStore.metaPath(img), new byte[0]);
        assertOpenFails(img, Errno.EINVAL, "metadata file is empty");
    }

    @Test
    void metadataFileOfAnotherImageIsRejected() throws Exception {
        Path img = dir.resolve("img");
        Path other = dir.resolve("other");
        Mkfs.format(img, 1 << 20, 4096, false);
        Mkfs.format(other, 1 << 20, 4096, false);
        Files.copy(MvMetaStore.metaPath(other), MvMetaStore.metaPath(img), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path meta = MvMetaStore.metaPath(img);
        String before = digest(img) + digest(meta);
        FsException e = assertThrows(FsException.class, () -> IomapFs.open(img, EngineConfig.defaults()));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("belongs to another image"), e.getMessage());
        assertEquals(before, digest(img) + digest(meta), "image and metadata unchanged");
    }

    @Test
    void blockSizeOutOfRangeIsRefusedByMkfsNamingTheAcceptedSizes() {
        for (int bs : new int[]{256, 3000, 8192, 65536, 0, -4096}) {
            FsException e = assertThrows(FsException.class, () -> Mkfs.format(dir.resolve("i" + bs), 1 << 20, bs, false));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals("block size " + bs + " is not supported: it must be 512, 1024, 2048 or 4096", e.getMessage());
            assertFalse(Files.exists(dir.resolve("i" + bs)), "nothing created");
        }
    }

    @Test
    void mkfsOverAnExistingImageNeedsForce() throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1 << 20, 4096, false);
        String before = digest(img);
        assertEquals(Errno.EEXIST, assertThrows(FsException.class, () -> Mkfs.format(img, 1 << 20, 4096, false)).errno());
        assertEquals(before, digest(img));
    }

    @Test
    void mkfsWhereOnlyALeftoverMetadataStoreRemainsNamesThatFile() throws Exception {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1 << 20, 4096, false);
        Files.delete(img);
        Path meta = MvMetaStore.metaPath(img);
        String before = digest(meta);
        FsException e = assertThrows(FsException.class, () -> Mkfs.format(img, 1 << 20, 4096, false));
        assertEquals(Errno.EEXIST, e.errno());
        assertTrue(e.getMessage().startsWith(meta + ": already exists"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one-line message");
        assertEquals(before, digest(meta), "the leftover store is untouched");
        assertEquals("absent", digest(img), "no image created");
        Mkfs.format(img, 1 << 20, 4096, true);
        assertEquals(0, Fsck.check(img).problems().size());
    }

    @Test
    void anImageInUseCannotBeOpenedTwice() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 1 << 20, 4096, false);
        try (IomapFs fs = IomapFs.open(img, EngineConfig.defaults())) {
            FsException e = assertThrows(FsException.class, () -> IomapFs.open(img, EngineConfig.defaults()));
            assertEquals(Errno.EBUSY, e.errno());
            assertTrue(fs.statfs().freeBlocks() > 0);
        }
    }

    @Test
    void fsckOfAFreshImageIsClean() {
        Path img = dir.resolve("img");
        Mkfs.format(img, 4 << 20, 512, false);
        Fsck.FsckReport r = Fsck.check(img);
        assertTrue(r.clean(), r.problems().toString());
        assertEquals(1, r.inodes());
    }
}
