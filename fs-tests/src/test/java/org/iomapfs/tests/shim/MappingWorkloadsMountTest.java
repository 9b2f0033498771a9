package org.iomapfs.tests.shim;

import org.iomapfs.shim.mapping.DirectIntoMapping;
import org.iomapfs.shim.mapping.MmapRwFault;
import org.iomapfs.tests.mount.LiveMount;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shim's mapping workloads, each its own process, against a fresh mount in the default (fixed) mode: a read
 * or write whose user buffer is a mapping on the mount, so the kernel faults in (or pins) iomapfs pages in the
 * middle of another iomapfs I/O. Each workload checks the mapping the way its C model does and then the files
 * through the daemon after fsync and a kernel cache drop.
 */
class MappingWorkloadsMountTest {
    @TempDir
    static Path tmp;
    static LiveMount mount;

    @BeforeAll
    static void mount() throws Exception {
        LiveMount.assumeFuse("MappingWorkloadsMountTest");
        mount = LiveMount.start(tmp, "512M");
        assertEquals("fixed", mount.ctl("mode"), "a fresh mount runs the fixed engine");
    }

    @AfterAll
    static void unmount() {
        if (mount != null) {
            mount.close();
        }
    }

    /** generic/647: every case of src/mmap-rw-fault.c (with -2), with MAP_PRIVATE as in C and with MAP_SHARED. */
    @Test
    void mmapRwFaultSameFile() throws Exception {
        Path dir = Files.createDirectories(mount.mnt.resolve("647"));
        LiveMount.Proc p = LiveMount.workload(300, MmapRwFault.class.getName(), "-2", "--map", "both",
            "--timeout", "120", dir.toString());
        assertEquals(0, p.rc(), p.out());
        for (String map : new String[] {"MAP_PRIVATE", "MAP_SHARED"}) {
            for (String c : new String[] {"pread", "pread (O_DIRECT)", "pwrite", "pwrite (O_DIRECT)",
                "pread (O_DIRECT) from hole", "pwrite (O_DIRECT) of a page onto itself"}) {
                assertTrue(p.out().contains(map + " " + c + ": ok\n"), map + " " + c + " ran and held: " + p.out());
            }
        }
        assertTrue(Files.notExists(dir.resolve("mmap-rw-fault.tmp")), "the workload removes its file, as the C does");
    }

    /** O_DIRECT reads into a MAP_SHARED mapping of another file, the destination verified through the daemon. */
    @Test
    void directReadsIntoASharedMappingOfAnotherFile() throws Exception {
        Path dir = Files.createDirectories(mount.mnt.resolve("dim"));
        LiveMount.Proc p = LiveMount.workload(300, DirectIntoMapping.class.getName(), "-S", "647", "--size", "8m",
            "--ops", "2000", "--max-len", "256k", dir.toString());
        assertEquals(0, p.rc(), p.out());
        assertTrue(p.out().contains("O_DIRECT reads go straight into the mapping"), p.out());
        assertTrue(p.out().contains("2000 O_DIRECT reads into the mapping"), p.out());
        assertTrue(p.out().contains("dim-dst matches its shadow copy through the daemon"), p.out());
    }
}
