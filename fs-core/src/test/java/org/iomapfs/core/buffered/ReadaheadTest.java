package org.iomapfs.core.buffered;

import org.iomapfs.core.EngineOnImage;
import org.iomapfs.core.api.OpenFlags;
import org.iomapfs.core.inode.Inode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What a buffered read's cache miss reads (page_cache_sync_ra): the readahead window (32 folios) at the start
 * of the file, on a sequential miss and after cached history; a standalone random read only what it asked for.
 */
class ReadaheadTest extends EngineOnImage {
    private long fh;
    private Inode inode;

    @BeforeEach
    void fileOfOneMiBOnTheImageOnly() {
        format();
        long w = fs.create("/f", 0644, OpenFlags.O_RDWR, 0, 0);
        fs.write(w, 0, ByteBuffer.wrap(new byte[1 << 20]));
        fs.fsync(w, false);
        fs.release(w);
        fs.dropCaches();
        fh = fs.open("/f", OpenFlags.O_RDONLY);
        inode = fs.context().inode(fs.fgetattr(fh).ino());
        assertEquals(0, cached());
    }

    private int cached() { return inode.mapping.folios(0, Long.MAX_VALUE).size(); }

    private void read(long pos, int len) {
        assertEquals(len, fs.read(fh, pos, ByteBuffer.allocate(len)));
    }

    @Test
    void aStandaloneRandomReadReadsOnlyItsFolios() {
        read(128 * 4096, 4096);
        assertEquals(1, cached());
        read(200 * 4096 + 100, 8192);
        assertEquals(4, cached(), "an unaligned 8 KiB read spans three folios");
    }

    @Test
    void aReadAtTheStartOfTheFileReadsTheWindow() {
        read(0, 4096);
        assertEquals(32, cached());
    }

    @Test
    void aSequentialMissReadsTheWindow() {
        read(128 * 4096, 4096);
        read(129 * 4096, 4096);
        assertEquals(1 + 32, cached());
    }

    @Test
    void aMissAfterACachedFolioReadsTheWindowAsAStreamsTrace() {
        read(100 * 4096, 4096);
        read(50 * 4096, 4096);
        read(101 * 4096, 4096);
        assertEquals(2 + 32, cached());
    }

    @Test
    void aReadLargerThanTheWindowReadsWholeWindows() {
        read(128 * 4096, 33 * 4096);
        assertEquals(64, cached());
    }
}
