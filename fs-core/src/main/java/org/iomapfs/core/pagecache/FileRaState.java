package org.iomapfs.core.pagecache;

/**
 * struct file_ra_state, the part a cache miss's readahead decision reads: where the last read of this open
 * file ended ({@code prev_pos}; -1 before the first, as file_ra_state_init leaves it). Read and written without
 * locks, as the kernel does: a race changes how much the next miss reads, never what a read returns.
 */
public final class FileRaState {
    private volatile long prevPos = -1;

    public long prevPos() { return prevPos; }

    public void setPrevPos(long pos) { prevPos = pos; }
}
