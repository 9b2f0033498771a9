package org.iomapfs.core.store;

import org.iomapfs.core.api.FileType;
import org.iomapfs.core.api.FsException;
import org.iomapfs.core.api.Vfs;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * fsck: reads the image and its metadata read-only and checks that no two extents share a block, that free
 * space and extents together cover the data area exactly, that no delalloc reached the store, that no written
 * extent lies past EOF, and that directory entries and link counts agree. Never writes.
 */
public final class Fsck {
    private Fsck() { }

    public record FsckReport(List<String> problems, List<String> notes, long inodes, long extents, long freeBlocks) {
        public boolean clean() { return problems.isEmpty(); }
    }

    public static FsckReport check(Path image) {
        Superblock sb = ImageDevice.readSuperblock(image);
        List<String> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        long extentCount = 0;
        long freeBlocks = 0;
        try (MvMetaStore store = MvMetaStore.open(MvMetaStore.metaPath(image), true)) {
            if (!sb.equals(store.superblock())) {
                problems.add("metadata superblock " + store.superblock() + " does not match the image's " + sb);
                return new FsckReport(problems, notes, 0, 0, 0);
            }
            List<InodeRecord> inodes = store.allInodes();
            Map<Long, InodeRecord> byIno = new HashMap<>();
            for (InodeRecord r : inodes) {
                byIno.put(r.ino(), r);
            }
            if (!byIno.containsKey(Vfs.ROOT_INO)) {
                problems.add("root directory inode " + Vfs.ROOT_INO + " is missing");
            }
            List<long[]> used = new ArrayList<>();
            Map<Long, Integer> links = new HashMap<>();
            Map<Long, Integer> subdirs = new HashMap<>();
            for (InodeRecord r : inodes) {
                long eofBlock = (r.size() + sb.blockSize() - 1) / sb.blockSize();
                for (long[] e : store.rawExtents(r.ino())) {
                    extentCount++;
                    long fileBlock = e[0];
                    long count = e[1];
                    long disk = e[2];
                    long state = e[3];
                    if (state != MvMetaStore.STATE_UNWRITTEN && state != MvMetaStore.STATE_WRITTEN) {
                        problems.add("inode " + r.ino() + ": extent at file block " + fileBlock + " has state " + state
                                + (state == MvMetaStore.STATE_DELALLOC ? " (delalloc on disk)" : " (unknown)"));
                    }
                    if (count <= 0 || disk < Superblock.FIRST_DATA_BLOCK || disk + count > sb.blockCount()) {
                        problems.add("inode " + r.ino() + ": extent [" + disk + "+" + count + ") lies outside the data area");
                        continue;
                    }
                    if (state == MvMetaStore.STATE_WRITTEN && fileBlock + count > eofBlock) {
                        problems.add("inode " + r.ino() + ": written extent at file blocks [" + fileBlock + "," + (fileBlock + count)
                                + ") reaches past EOF block " + eofBlock + " (size " + r.size() + ")");
                    }
                    used.add(new long[]{disk, count, r.ino()});
                }
                if (r.type() != FileType.DIRECTORY && !store.listDir(r.ino()).isEmpty()) {
                    problems.add("inode " + r.ino() + " is a " + r.type() + " but has directory entries");
                }
                if (r.type() == FileType.SYMLINK && (r.symlinkTarget() == null || r.symlinkTarget().isEmpty())) {
                    problems.add("symlink inode " + r.ino() + " has no target");
                }
                if (r.type() == FileType.DIRECTORY) {
                    for (Map.Entry<String, Long> d : store.listDir(r.ino())) {
                        InodeRecord child = byIno.get(d.getValue());
                        if (child == null) {
                            problems.add("directory " + r.ino() + ": entry '" + d.getKey() + "' names missing inode " + d.getValue());
                            continue;
                        }
                        links.merge(child.ino(), 1, Integer::sum);
                        if (child.type() == FileType.DIRECTORY) {
                            subdirs.merge(r.ino(), 1, Integer::sum);
                        }
                    }
                }
            }
            for (InodeRecord r : inodes) {
                int refs = links.getOrDefault(r.ino(), 0);
                int want = r.type() == FileType.DIRECTORY ? (refs > 0 || r.ino() == Vfs.ROOT_INO ? 2 : 0) + subdirs.getOrDefault(r.ino(), 0) : refs;
                if (r.nlink() == 0 && refs == 0 && r.ino() != Vfs.ROOT_INO) {
                    notes.add("inode " + r.ino() + " is an orphan (open-unlinked at shutdown); it is freed at the next mount");
                } else if (r.nlink() != want) {
                    problems.add("inode " + r.ino() + ": nlink " + r.nlink() + " but " + want + " expected from directory entries");
                }
            }
            for (long[] f : store.freeExtents()) {
                used.add(new long[]{f[0], f[1], -1});
                freeBlocks += f[1];
            }
            used.sort(Comparator.comparingLong(a -> a[0]));
            long expect = Superblock.FIRST_DATA_BLOCK;
            long[] prev = null;
            for (long[] u : used) {
                if (u[0] < expect && prev != null) {
                    problems.add("block " + u[0] + " is claimed twice: by " + owner(prev) + " and by " + owner(u));
                } else if (u[0] > expect) {
                    problems.add("blocks [" + expect + "," + u[0] + ") are neither free nor in any extent (leaked)");
                }
                if (prev == null || u[0] + u[1] > expect) {
                    expect = Math.max(expect, u[0] + u[1]);
                    prev = u;
                }
            }
            if (expect < sb.blockCount()) {
                problems.add("blocks [" + expect + "," + sb.blockCount() + ") are neither free nor in any extent (leaked)");
            }
            return new FsckReport(problems, notes, inodes.size(), extentCount, freeBlocks);
        }
    }

    private static String owner(long[] u) {
        return u[2] < 0 ? "free space [" + u[0] + "+" + u[1] + ")" : "inode " + u[2] + " extent [" + u[0] + "+" + u[1] + ")";
    }

    /** {@code Fsck IMAGE}: exit 0 clean, 1 problems found, 2 bad input. */
    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: fsck IMAGE");
            System.exit(2);
        }
        try {
            FsckReport r = check(Path.of(args[0]));
            r.notes().forEach(n -> System.out.println("note: " + n));
            r.problems().forEach(p -> System.out.println("problem: " + p));
            System.out.println(args[0] + ": " + r.inodes() + " inodes, " + r.extents() + " extents, " + r.freeBlocks()
                    + " free blocks, " + r.problems().size() + " problems");
            System.exit(r.clean() ? 0 : 1);
        } catch (FsException e) {
            System.err.println("fsck: " + e.getMessage());
            System.exit(2);
        }
    }
}
