package org.iomapfs.shim.mapping;

import com.sun.nio.file.ExtendedOpenOption;
import org.iomapfs.shim.sys.Mappings;
import org.iomapfs.shim.sys.Cli;
import org.iomapfs.shim.sys.DaemonView;
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
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Page faults on the same file during read and write: fstests {@code src/mmap-rw-fault.c} (generic/647, by
 * Andreas Gruenbacher, written for the gfs2/iomap fault-in deadlock fixed by "iomap: Support partial direct I/O on
 * user copy failures" and the fault_in_iov_iter series; our bug fault-in-deadlock). The file has a hole at page 0
 * and data at page 1; both pages are mapped, and the user buffer of each pread/pwrite is that mapping, so the copy
 * faults on the very file being read or written:
 * <ol>
 * <li>pread of page 1 into mapped page 0, buffered and O_DIRECT: page 0 of the mapping then holds page 1's data;
 * <li>pwrite of mapped page 1 to offset 0, buffered and O_DIRECT: page 0 then holds page 1's data;
 * <li>O_DIRECT pread of the hole (page 0) into mapped page 0: zeros;
 * <li>with {@code --same-page-write} (the C program's -2): O_DIRECT pwrite of mapped page 1 to page 1.
 * </ol>
 * Java hands a {@code MappedByteBuffer} to pread/pwrite as it is (a direct buffer is never copied), so the
 * system calls see the mapping as the C program's do. The C program maps MAP_PRIVATE; {@code --map shared} (and
 * {@code both}, the default) also runs every case with MAP_SHARED, where the faulted-in and copied pages are the
 * file's own page cache and must reach the daemon: after each case the file is also read through the daemon
 * (fsync, unmap, kernel cache drop; buffered and O_DIRECT) and compared with what the case must have left.
 */
@Command(name = "mmap-rw-fault", mixinStandardHelpOptions = true, sortOptions = false,
    version = "mmap-rw-fault (iomapfs xfstests-shim) 0.1.0",
    description = {"fstests src/mmap-rw-fault.c (generic/647): pread/pwrite whose user buffer is a mapping of the "
        + "same file, buffered and O_DIRECT, on DIR/mmap-rw-fault.tmp.",
        "Exit 0 when every case holds, 1 when one is broken, 3 when one hangs past --timeout, 2 for bad arguments."})
public final class MmapRwFault implements Callable<Integer> {
    static final int PAGE = Mappings.PAGE_SIZE;

    enum MapKind { PRIVATE, SHARED, BOTH }

    @Option(names = "--map", description = "mapping type: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}; the C "
        + "program uses private)")
    MapKind map = MapKind.BOTH;

    @Option(names = {"-2", "--same-page-write"}, description = "also the C program's -2 case: O_DIRECT pwrite of "
        + "mapped page 1 to page 1")
    boolean samePageWrite;

    @Option(names = "--timeout", description = "seconds one case may take before it is reported as hung "
        + "(default: ${DEFAULT-VALUE})")
    int timeoutSeconds = 120;

    @Parameters(paramLabel = "DIR", description = "a directory on the mount")
    Path dir;

    private final PrintStream out;
    private Path file;
    private final byte[] page = new byte[PAGE];
    private FileChannel ch;
    private MappedByteBuffer addr;
    private volatile String current = "setup";

    /** A case whose check failed, with the C program's message. */
    static final class Broken extends Exception {
        Broken(String message) {
            super(message);
        }
    }

    public MmapRwFault() {
        this(System.out);
    }

    MmapRwFault(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(Cli.run("mmap-rw-fault", new MmapRwFault(), args));
    }

    @Override
    public Integer call() throws Exception {
        if (timeoutSeconds <= 0) {
            throw new Cli.BadArgument("--timeout must be positive");
        }
        file = dir.resolve("mmap-rw-fault.tmp");
        Thread watchdog = startWatchdog();
        try {
            List<FileChannel.MapMode> modes = switch (map) {
                case PRIVATE -> List.of(FileChannel.MapMode.PRIVATE);
                case SHARED -> List.of(FileChannel.MapMode.READ_WRITE);
                case BOTH -> List.of(FileChannel.MapMode.PRIVATE, FileChannel.MapMode.READ_WRITE);
            };
            for (FileChannel.MapMode mode : modes) {
                runCases(mode);
            }
            Files.delete(file);
        } catch (Broken b) {
            out.println("mmap-rw-fault: " + b.getMessage());
            return 1;
        } finally {
            watchdog.interrupt();
        }
        out.println("mmap-rw-fault: every case holds");
        return 0;
    }

    /** A case that never returns is the symptom of a fault-in deadlock: say which, and end the process. */
    private Thread startWatchdog() {
        Thread t = new Thread(() -> {
            String last = null;
            long since = System.nanoTime();
            try {
                while (true) {
                    Thread.sleep(200);
                    String now = current;
                    if (!now.equals(last)) {
                        last = now;
                        since = System.nanoTime();
                    } else if (System.nanoTime() - since > timeoutSeconds * 1_000_000_000L) {
                        out.println("mmap-rw-fault: " + now + " did not finish within " + timeoutSeconds
                            + " s (a fault-in deadlock?)");
                        out.flush();
                        Runtime.getRuntime().halt(3);
                    }
                }
            } catch (InterruptedException done) {
                // every case finished
            }
        }, "mmap-rw-fault-watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void runCases(FileChannel.MapMode mode) throws IOException, Broken {
        String m = mode == FileChannel.MapMode.PRIVATE ? "MAP_PRIVATE" : "MAP_SHARED";
        boolean shared = mode == FileChannel.MapMode.READ_WRITE;

        // page faults during pread: read from an allocated area on disk into page 0
        init('a', false, mode, m + " pread");
        int ret = doRead(addr.slice(0, PAGE), PAGE);
        if (ret != PAGE) {
            throw new Broken(String.format("pread %s: %d != %d", file, ret, PAGE));
        }
        expectPage0("pread is broken");
        // MAP_SHARED: page 0 of the file is now page 1's data; MAP_PRIVATE: the copy went to a private page
        done(shared ? 'a' : 0, 'a');

        init('b', true, mode, m + " pread (O_DIRECT)");
        ret = doRead(addr.slice(0, PAGE), PAGE);
        if (ret != PAGE) {
            throw new Broken(String.format("pread %s (O_DIRECT): %d != %d", file, ret, PAGE));
        }
        expectPage0("pread (O_DIRECT) is broken");
        done(shared ? 'b' : 0, 'b');

        // page faults during pwrite: write from an allocated area on disk into page 0
        init('c', false, mode, m + " pwrite");
        ret = doWrite(addr.slice(PAGE, PAGE), 0);
        if (ret != PAGE) {
            throw new Broken(String.format("pwrite %s: %d != %d", file, ret, PAGE));
        }
        expectPage0("pwrite is broken");
        done('c', 'c');

        init('d', true, mode, m + " pwrite (O_DIRECT)");
        ret = doWrite(addr.slice(PAGE, PAGE), 0);
        if (ret != PAGE) {
            throw new Broken(String.format("pwrite %s (O_DIRECT): %d != %d", file, ret, PAGE));
        }
        expectPage0("pwrite (O_DIRECT) is broken");
        done('d', 'd');

        // reading from a hole under O_DIRECT takes a different code path in the kernel
        init('e', true, mode, m + " pread (O_DIRECT) from hole");
        ret = doRead(addr.slice(0, PAGE), 0);
        if (ret != PAGE) {
            throw new Broken(String.format("pread %s (O_DIRECT) from hole: %d != %d", file, ret, PAGE));
        }
        Arrays.fill(page, (byte) 0);
        expectPage0("pread (O_DIRECT) from hole is broken");
        done(0, 'e');

        if (samePageWrite) {
            init('f', true, mode, m + " pwrite (O_DIRECT) of a page onto itself");
            ret = doWrite(addr.slice(PAGE, PAGE), PAGE);
            if (ret != PAGE) {
                throw new Broken(String.format("pwrite %s (O_DIRECT): %d != %d", file, ret, PAGE));
            }
            done(0, 'f');
        }
    }

    /**
     * Leaves a hole at the beginning of the file and {@code c} in its second page (an O_DIRECT pwrite, as the C
     * program does), reopens it with or without O_DIRECT and maps both pages.
     */
    private void init(char c, boolean direct, FileChannel.MapMode mode, String name) throws IOException {
        current = name;
        Arrays.fill(page, (byte) c);
        try (FileChannel w = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)) {
            ByteBuffer b = PageCache.alignedBuffer(PAGE).put(0, page);
            if (w.write(b, PAGE) != PAGE) {
                throw new IOException(file + ": short O_DIRECT write in init");
            }
        }
        List<OpenOption> opts = new ArrayList<>(List.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        if (direct) {
            opts.add(ExtendedOpenOption.DIRECT);
        }
        ch = FileChannel.open(file, opts.toArray(OpenOption[]::new));
        addr = ch.map(mode, 0, 2 * PAGE);
    }

    /** pread until {@code count} bytes or end of file, retrying short reads like the C do_read. */
    private int doRead(ByteBuffer buf, long offset) throws IOException {
        int total = 0;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, offset + total);
            if (r <= 0) {
                break;
            }
            total += r;
        }
        return total;
    }

    private int doWrite(ByteBuffer buf, long offset) throws IOException {
        int total = 0;
        while (buf.hasRemaining()) {
            int r = ch.write(buf, offset + total);
            if (r <= 0) {
                break;
            }
            total += r;
        }
        return total;
    }

    /** memcmp(addr, page, page_size) of the C program. */
    private void expectPage0(String message) throws Broken {
        byte[] got = new byte[PAGE];
        addr.get(0, got);
        String bad = DaemonView.diff(page, got);
        if (bad != null) {
            throw new Broken(message + " (" + current + ": mapped page 0 " + bad + ")");
        }
    }

    /**
     * fsync and close as the C program's done(), then unmap and read the file through the daemon: page 0 must
     * hold {@code p0} (0 for zeros) and page 1 {@code p1}.
     */
    private void done(int p0, int p1) throws IOException, Broken {
        ch.force(true);
        // MAP_SHARED stores made by the kernel's copy reach the daemon with the mapping's writeback
        addr.force();
        Mappings.unmap(addr);
        ch.force(true);
        ch.close();
        byte[] want = new byte[2 * PAGE];
        Arrays.fill(want, 0, PAGE, (byte) p0);
        Arrays.fill(want, PAGE, 2 * PAGE, (byte) p1);
        String bad = DaemonView.diff(want, DaemonView.bufferedAfterDrop(file));
        if (bad == null) {
            bad = DaemonView.diff(want, DaemonView.direct(file));
        }
        if (bad != null) {
            throw new Broken(current + ": the file read through the daemon after fsync and drop_caches: " + bad);
        }
        out.println(current + ": ok");
    }
}
