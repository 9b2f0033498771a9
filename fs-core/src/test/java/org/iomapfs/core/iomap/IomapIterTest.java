package org.iomapfs.core.iomap;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.iomapfs.core.inode.Inode;
import org.iomapfs.core.metrics.EngineMetrics;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class IomapIterTest {
    final EngineMetrics metrics = new EngineMetrics(new SimpleMeterRegistry());

    /** Ops that map 100-byte pieces and record every begin and end. */
    static final class Recording implements IomapOps {
        final List<String> log = new ArrayList<>();

        @Override
        public Iomap begin(Inode inode, long pos, long length, int flags) {
            log.add("begin " + pos);
            long start = pos / 100 * 100;
            return new Iomap(start, 100, IomapType.MAPPED, 0, 0, 0);
        }

        @Override
        public End end() {
            return (inode, pos, length, written, flags, iomap) -> log.add("end " + pos + " " + length + " " + written);
        }
    }

    @Test
    void walksTheRangeCallingEndWithWhatWasProcessed() {
        Recording ops = new Recording();
        IomapIter it = new IomapIter(null, 50, 200, 0, ops, metrics);
        long done = it.run(IomapIter::length);
        assertEquals(200, done);
        assertEquals(List.of("begin 50", "end 50 50 50", "begin 100", "end 100 100 100", "begin 200", "end 200 50 50"), ops.log);
    }

    @Test
    void aStaleMapIsMappedAgainEvenIfNothingWasProcessed() {
        Recording ops = new Recording();
        int[] calls = {0};
        IomapIter it = new IomapIter(null, 0, 100, 0, ops, metrics);
        long done = it.run(i -> {
            if (calls[0]++ == 0) {
                i.iomap.flags |= Iomap.F_STALE;
                return 0;
            }
            return i.length();
        });
        assertEquals(100, done);
        assertEquals(List.of("begin 0", "end 0 100 0", "begin 0", "end 0 100 100"), ops.log);
        assertEquals(1.0, metrics.remaps.count());
    }

    @Test
    void zeroProgressWithoutStaleEndsTheWalkShort() {
        Recording ops = new Recording();
        IomapIter it = new IomapIter(null, 0, 300, 0, ops, metrics);
        long done = it.run(i -> i.pos == 0 ? i.length() : 0);
        assertEquals(100, done);
        assertEquals(List.of("begin 0", "end 0 100 100", "begin 100", "end 100 100 0"), ops.log);
    }

    @Test
    void aFailureAfterProgressReturnsTheProgressAndAFailureAtTheStartThrows() {
        Recording ops = new Recording();
        IomapIter it = new IomapIter(null, 0, 300, 0, ops, metrics);
        long done = it.run(i -> {
            if (i.pos == 100) {
                throw new org.iomapfs.core.api.FsException(org.iomapfs.core.api.Errno.EIO, "boom");
            }
            return i.length();
        });
        assertEquals(100, done);
        assertTrue(ops.log.contains("end 100 100 0"), "->iomap_end runs for the failed step with 0 written");
        IomapIter first = new IomapIter(null, 0, 300, 0, new Recording(), metrics);
        assertThrows(org.iomapfs.core.api.FsException.class, () -> first.run(i -> {
            throw new org.iomapfs.core.api.FsException(org.iomapfs.core.api.Errno.EIO, "boom");
        }));
    }
}
