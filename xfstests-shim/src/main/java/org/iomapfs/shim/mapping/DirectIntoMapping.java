package org.iomapfs.shim.mapping;

import com.sun.nio.file.ExtendedOpenOption;
import org.iomapfs.shim.sys.Mappings;
import org.iomapfs.shim.sys.Cli;
import org.iomapfs.shim.sys.DaemonView;
import org.iomapfs.shim.sys.LibC;
import org.iomapfs.shim.sys.Mappings;
import org.iomapfs.shim.sys.PageCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * O_DIRECT reads from one file into a MAP_SHARED mapping of another file on the same mount: the kernel pins the
 * destination's page-cache pages (get_user_pages with FOLL_WRITE: a write fault, page_mkwrite, on the
 * destination) while the daemon serves the source's READ into them; the pages reach the daemon later as
 * writepage WRITEs of the destination. This is the user-space shape of the "direct I/O into a file-backed mapping"
 * case behind the gup-dirty-without-state bug (design model section 4). The source has a punched hole, so some
 * reads fill the mapping from a hole; the destination is half data, half hole.
 * <p>
 * Java reads straight into a direct buffer ({@code IOUtil.read} takes {@code readIntoNativeBuffer} for a
 * {@code DirectBuffer}, and a {@code MappedByteBuffer} is one) and only on that path checks the buffer's address
 * alignment for O_DIRECT; the workload proves the path by having a misaligned slice of the mapping refused.
 * At the end: msync, fsync, kernel cache drop, and the destination read through the daemon (buffered and
 * O_DIRECT) must equal the shadow copy.
 */
@Command(name = "direct-into-mapping", mixinStandardHelpOptions = true, sortOptions = false,
    version = "direct-into-mapping (iomapfs xfstests-shim) 0.1.0",
    description = {"O_DIRECT reads from DIR/dim-src into a MAP_SHARED mapping of DIR/dim-dst, then the destination "
        + "checked through the daemon after msync, fsync and a kernel cache drop.",
        "Exit 0 when it matches, 1 on a mismatch or a failed call, 2 for bad arguments."})
public final class DirectIntoMapping implements Callable<Integer> {
    static final int PAGE = Mappings.PAGE_SIZE;

    @Option(names = "--size", converter = Cli.SizeConverter.class,
        description = "size of each file, a multiple of 4096 (default: ${DEFAULT-VALUE})")
    long size = 8L << 20;

    @Option(names = "--ops", description = "O_DIRECT reads into the mapping (default: ${DEFAULT-VALUE})")
    int ops = 2000;

    @Option(names = "--max-len", converter = Cli.SizeConverter.class,
        description = "largest read, a multiple of 4096 (default: ${DEFAULT-VALUE})")
    long maxLen = 256 * 1024;

    @Option(names = {"-S", "--seed"}, description = "seed of data and offsets; 0 picks one (default: ${DEFAULT-VALUE})")
    long seed;

    @Parameters(paramLabel = "DIR", description = "a directory on the mount")
    Path dir;

    private final PrintStream out;

    public DirectIntoMapping() {
        this(System.out);
    }

    DirectIntoMapping(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(Cli.run("direct-into-mapping", new DirectIntoMapping(), args));
    }

    @Override
    public Integer call() throws Exception {
        if (size <= 0 || size % PAGE != 0 || size > (1L << 30)) {
            throw new Cli.BadArgument("--size must be a positive multiple of 4096 up to 1g");
        }
        if (maxLen <= 0 || maxLen % PAGE != 0 || maxLen > size) {
            throw new Cli.BadArgument("--max-len must be a positive multiple of 4096 no larger than --size");
        }
        if (ops < 0) {
            throw new Cli.BadArgument("--ops must not be negative");
        }
        if (seed == 0) {
            seed = (System.nanoTime() & 0x7fffffffL) | 1;
        }
        out.println("seed " + seed);
        Random rnd = new Random(seed);
        int n = (int) size;
        Path src = dir.resolve("dim-src");
        Path dst = dir.resolve("dim-dst");

        // source: random data through buffered writes, then a punched hole in its middle
        byte[] srcData = new byte[n];
        rnd.nextBytes(srcData);
        int holeOff = (n / 4) & -PAGE;
        int holeLen = Math.max(PAGE, (n / 8) & -PAGE);
        Arrays.fill(srcData, holeOff, holeOff + holeLen, (byte) 0);
        Files.write(src, srcData);
        try (LibC.Fd fd = LibC.Fd.openReadWrite(src); FileChannel c = FileChannel.open(src, StandardOpenOption.WRITE)) {
            fd.fallocate(LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, holeOff, holeLen);
            c.force(true);
        }
        // destination: the first half written, the second half a hole
        byte[] shadow = new byte[n];
        Arrays.fill(shadow, 0, n / 2, (byte) 0x5a);
        try (FileChannel c = FileChannel.open(dst, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(shadow, 0, n / 2), 0);
            c.force(true);
        }
        try (LibC.Fd fd = LibC.Fd.openReadWrite(dst)) {
            fd.ftruncate(n);
        }

        long t0 = System.nanoTime();
        try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
             FileChannel map = FileChannel.open(dst, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer m = map.map(FileChannel.MapMode.READ_WRITE, 0, n);
            try {
                proveDirectPath(in, m);
                int pages = n / PAGE;
                int maxPages = (int) (maxLen / PAGE);
                for (int i = 0; i < ops; i++) {
                    int len = (1 + rnd.nextInt(maxPages)) * PAGE;
                    int from = rnd.nextInt(pages - len / PAGE + 1) * PAGE;
                    int to = rnd.nextInt(pages - len / PAGE + 1) * PAGE;
                    ByteBuffer slice = m.slice(to, len);
                    int got = 0;
                    while (got < len) {
                        int r = in.read(slice, from + got);
                        if (r <= 0) {
                            out.printf("read %d: O_DIRECT read of 0x%x at 0x%x returned %d after 0x%x bytes%n", i,
                                len, from, r, got);
                            return 1;
                        }
                        got += r;
                    }
                    System.arraycopy(srcData, from, shadow, to, len);
                    // the mapping is the destination's page cache: it must show the source's bytes at once
                    byte[] seen = new byte[len];
                    m.get(to, seen);
                    if (!Arrays.equals(seen, 0, len, srcData, from, from + len)) {
                        out.printf("read %d: after the O_DIRECT read of src 0x%x+0x%x into dst 0x%x the mapping "
                            + "holds other bytes: %s%n", i, from, len, to,
                            DaemonView.diff(Arrays.copyOfRange(srcData, from, from + len), seen));
                        return 1;
                    }
                }
                m.force();
            } finally {
                Mappings.unmap(m);
            }
            map.force(true);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        out.printf("%d O_DIRECT reads into the mapping in %.1f s (%.0f/s)%n", ops, secs, ops / secs);

        String bad = DaemonView.diff(shadow, DaemonView.bufferedAfterDrop(dst));
        if (bad != null) {
            out.println("dim-dst read through the daemon after msync, fsync and drop_caches: " + bad);
            return 1;
        }
        bad = DaemonView.diff(shadow, DaemonView.direct(dst));
        if (bad != null) {
            out.println("dim-dst read with O_DIRECT: " + bad);
            return 1;
        }
        bad = DaemonView.diff(srcData, DaemonView.direct(src));
        if (bad != null) {
            out.println("dim-src changed: " + bad);
            return 1;
        }
        out.println("dim-dst matches its shadow copy through the daemon");
        return 0;
    }

    /**
     * A slice of the mapping that starts one byte into a page must be refused for O_DIRECT: Java checks the
     * buffer address only when it reads straight into the buffer, so a refusal shows the aligned reads above are
     * direct I/O into the mapping itself, not into a temporary buffer copied afterwards.
     */
    private void proveDirectPath(FileChannel in, MappedByteBuffer m) throws IOException {
        ByteBuffer misaligned = m.slice(1, PAGE);
        try {
            in.read(misaligned, 0);
        } catch (IOException e) {
            out.println("O_DIRECT reads go straight into the mapping (a misaligned slice is refused: "
                + e.getMessage() + ")");
            return;
        }
        throw new IOException("an O_DIRECT read into a misaligned slice of the mapping was accepted: Java copied it "
            + "through a temporary buffer, so this workload would not do direct I/O into the mapping");
    }
}
