package org.iomapfs.core.store;

import org.iomapfs.core.api.FileType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link MetaStore#unsyncedOnlyTimestamps}: what fdatasync may leave unsynced, update by update. */
class UnsyncedTimestampsTest {
    @TempDir
    Path dir;
    MvMetaStore store;
    final InodeRecord file = new InodeRecord(7, FileType.REGULAR, 0644, 0, 0, 1, 4096, 1, 2, 3, null);

    @BeforeEach
    void openSynced() {
        Mkfs.format(dir.resolve("img"), 16 << 20, 4096, false);
        store = MvMetaStore.open(MvMetaStore.metaPath(dir.resolve("img")), false);
        store.update(() -> store.putInode(file));
        store.commit(true);
    }

    @AfterEach
    void close() { store.close(); }

    @Test
    void aStoreJustOpenedHasNotSyncedWhatTheLastRunMayHaveLeftUnsynced() {
        store.close();
        store = MvMetaStore.open(MvMetaStore.metaPath(dir.resolve("img")), false);
        assertFalse(store.unsyncedOnlyTimestamps());
        store.commit(true);
        assertTrue(store.unsyncedOnlyTimestamps());
    }

    @Test
    void timestampChangesMayStayUnsyncedCommittedOrNot() {
        store.update(() -> store.putInode(withTimes(file, 10, 20, 30)));
        assertTrue(store.unsyncedOnlyTimestamps());
        store.commit(false);
        assertTrue(store.unsyncedOnlyTimestamps());
    }

    @Test
    void aSizeChangeIsUnsyncedUntilADurableCommitEvenOnceCommitted() {
        store.update(() -> store.putInode(new InodeRecord(7, FileType.REGULAR, 0644, 0, 0, 1, 8192, 1, 2, 3, null)));
        assertFalse(store.unsyncedOnlyTimestamps());
        store.commit(false);
        assertFalse(store.unsyncedOnlyTimestamps(), "committed without a sync is not on stable storage");
        store.commit(true);
        assertTrue(store.unsyncedOnlyTimestamps());
    }

    @Test
    void extentAndFreeSpaceChangesAreMoreThanTimestamps() {
        store.update(() -> store.putExtent(7, new ExtentRecord(0, 1, 100, true)));
        assertFalse(store.unsyncedOnlyTimestamps());
        store.commit(true);
        store.update(() -> store.putExtent(7, new ExtentRecord(0, 1, 100, false)));
        assertFalse(store.unsyncedOnlyTimestamps(), "an unwritten -> written conversion");
        store.commit(true);
        store.update(() -> store.removeFree(100));
        assertFalse(store.unsyncedOnlyTimestamps());
        store.commit(true);
        assertTrue(store.unsyncedOnlyTimestamps());
    }

    @Test
    void modeNlinkDirentsXattrsAndNewInodesAreMoreThanTimestamps() {
        InodeRecord chmod = new InodeRecord(7, FileType.REGULAR, 0600, 0, 0, 1, 4096, 1, 2, 4, null);
        InodeRecord link = new InodeRecord(7, FileType.REGULAR, 0600, 0, 0, 2, 4096, 1, 2, 5, null);
        InodeRecord fresh = new InodeRecord(8, FileType.REGULAR, 0644, 0, 0, 1, 0, 1, 1, 1, null);
        for (Runnable r : new Runnable[]{() -> store.putInode(chmod), () -> store.putInode(link),
                () -> store.putDirent(1, "f", 7), () -> store.putXattr(7, "user.a", new byte[]{1}),
                () -> store.putInode(fresh), () -> store.removeInode(8)}) {
            store.update(r);
            assertFalse(store.unsyncedOnlyTimestamps());
            store.commit(true);
            assertTrue(store.unsyncedOnlyTimestamps());
        }
    }

    private static InodeRecord withTimes(InodeRecord r, long a, long m, long c) {
        return new InodeRecord(r.ino(), r.type(), r.mode(), r.uid(), r.gid(), r.nlink(), r.size(), a, m, c,
                r.symlinkTarget(), r.rdev());
    }
}
