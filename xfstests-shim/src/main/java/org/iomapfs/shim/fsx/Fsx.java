package org.iomapfs.shim.fsx;

import com.sun.nio.file.ExtendedOpenOption;
import org.iomapfs.shim.io.DaemonRead;
import org.iomapfs.shim.sys.Cli;
import org.iomapfs.shim.sys.DaemonView;
import org.iomapfs.shim.sys.LibC;
import org.iomapfs.shim.sys.Mappings;
import org.iomapfs.shim.sys.PageCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * A file system exerciser after fstests' {@code ltp/fsx.c}: random reads, writes, mapped reads and writes
 * (MAP_SHARED), truncates, fallocates (mode 0 and KEEP_SIZE), hole punches, zero ranges and fsyncs on one file,
 * every read checked against a shadow copy in memory, and at the end (and every {@code --check-every} operations)
 * the whole file read back through the daemon after fsync and a kernel cache drop. Operation choice, data
 * ({@code gendata}: the low byte of the operation number, plus a seeded random byte at odd offsets) and the
 * .fsxops log follow fsx, so a bad byte names the operation that wrote it (mod 256) and a log replays with
 * {@code --replay}. Collapse and insert range are left out: iomapfs does not implement them.
 */
@Command(name = "fsx", mixinStandardHelpOptions = true, sortOptions = false, version = "fsx (iomapfs xfstests-shim) 0.1.0",
    description = {"File system exerciser after fstests ltp/fsx.c: random I/O on FILE checked against a shadow copy.",
        "Writes FILE.fsxops (every operation, replayable with --replay) and on a failure FILE.fsxgood (the "
            + "expected contents) in --log-dir. Exit 0 when every check passed; fsx's status codes otherwise "
            + "(110 bad data, 120 size error, 1xx/2xx a failed call), 2 for bad arguments."})
public final class Fsx implements Callable<Integer> {
    static final int OP_READ = 0;
    static final int OP_WRITE = 1;
    static final int OP_MAPREAD = 2;
    static final int OP_MAPWRITE = 3;
    static final int OP_TRUNCATE = 4;
    static final int OP_FALLOCATE = 5;
    static final int OP_PUNCH_HOLE = 6;
    static final int OP_ZERO_RANGE = 7;
    static final int OP_FSYNC = 8;
    static final int OP_MAX = 9;
    static final String[] OP_NAMES = {"read", "write", "mapread", "mapwrite", "truncate", "fallocate", "punch_hole",
        "zero_range", "fsync"};

    static final int FL_SKIPPED = 1;
    static final int FL_CLOSE_OPEN = 2;
    static final int FL_KEEP_SIZE = 4;

    static final int PAGE_MASK = Mappings.PAGE_SIZE - 1;
    /** How many operations the in-memory log keeps for a failure report (the .fsxops file keeps all). */
    static final int LOGSIZE = 100_000;

    @Option(names = {"-N", "--num-ops"}, description = "operations to run; -1 runs until interrupted, like fsx "
        + "(default: ${DEFAULT-VALUE})")
    long numOps = -1;

    @Option(names = {"-S", "--seed"}, description = "seed of the operations and data; 0 picks one from the clock; "
        + "the seed used is printed (default: ${DEFAULT-VALUE})")
    long seed = 0;

    @Option(names = {"-l", "--max-file-len"}, converter = Cli.SizeConverter.class,
        description = "upper bound on the file size, e.g. 256k (default: ${DEFAULT-VALUE})")
    long maxFileLen = 256 * 1024;

    @Option(names = {"-o", "--max-op-len"}, converter = Cli.SizeConverter.class,
        description = "upper bound on one operation's length (default: ${DEFAULT-VALUE})")
    long maxOpLen = 64 * 1024;

    @Option(names = {"-O", "--fixed-op-len"}, description = "every operation uses --max-op-len bytes")
    boolean fixedOpLen;

    @Option(names = {"-r", "--read-boundary"}, description = "align read offsets (and with -Z lengths) to this "
        + "(default 1; 4096 with -Z)")
    Integer readBdy;

    @Option(names = {"-w", "--write-boundary"}, description = "align write offsets (and with -Z lengths) to this "
        + "(default 1; 4096 with -Z)")
    Integer writeBdy;

    @Option(names = {"-t", "--truncate-boundary"}, description = "align truncate sizes to this (default: ${DEFAULT-VALUE})")
    int truncBdy = 1;

    @Option(names = {"-Z", "--direct-io"}, description = "reads and writes through an O_DIRECT descriptor "
        + "(mapped operations still go through the page cache, as with fsx -Z)")
    boolean directIo;

    @Option(names = {"-R", "--no-mapped-reads"}, description = "mapped reads become read() calls")
    boolean noMappedReads;

    @Option(names = {"-W", "--no-mapped-writes"}, description = "mapped writes become write() calls")
    boolean noMappedWrites;

    @Option(names = {"-F", "--no-fallocate"}, description = "no preallocation (fallocate mode 0 / KEEP_SIZE)")
    boolean noFallocate;

    @Option(names = {"-K", "--no-keep-size"}, description = "no FALLOC_FL_KEEP_SIZE")
    boolean noKeepSize;

    @Option(names = {"-H", "--no-punch-hole"}, description = "no FALLOC_FL_PUNCH_HOLE")
    boolean noPunchHole;

    @Option(names = {"-z", "--no-zero-range"}, description = "no FALLOC_FL_ZERO_RANGE")
    boolean noZeroRange;

    @Option(names = "--no-truncate", description = "no ftruncate operations")
    boolean noTruncate;

    @Option(names = "--no-fsync", description = "no fsync operations")
    boolean noFsync;

    @Option(names = {"-y", "--fsync-after-write"}, description = "fsync after every write, like fsx -y")
    boolean fsyncAfterWrite;

    @Option(names = {"-c", "--close-open"}, description = "1 in P chance of close+open after an operation")
    int closeProb;

    @Option(names = "--check-every", description = "every N operations: fsync, drop the kernel caches and compare "
        + "the whole file read through the daemon (0: only at the end) (default: ${DEFAULT-VALUE})")
    long checkEvery;

    @Option(names = "--daemon-read", paramLabel = "HOW", description = "how the whole-file checks read through the "
        + "daemon: both (a buffered read after dropping the kernel caches, then O_DIRECT) or odirect (O_DIRECT only: "
        + "no machine-wide cache drop, for frequent --check-every) (default: ${DEFAULT-VALUE})")
    String daemonRead = "both";

    @Option(names = {"-P", "--log-dir"}, description = "where FILE.fsxops and FILE.fsxgood go (default: FILE's "
        + "directory, like fsx)")
    Path logDir;

    @Option(names = {"--replay", "--replay-ops"}, paramLabel = "OPSFILE", description = "run the operations of a "
        + ".fsxops log instead of random ones (its seed and --max-file-len header lines are used)")
    Path replay;

    @Option(names = {"-p", "--progress"}, description = "print a progress line every N operations")
    long progressEvery;

    @Option(names = {"-d", "--debug"}, description = "print every operation")
    boolean debug;

    @Option(names = {"-q", "--quiet"}, description = "fewer messages")
    boolean quiet;

    @Parameters(paramLabel = "FILE", description = "the test file (created or truncated)")
    Path file;

    private final PrintStream out;

    // run state
    private Random rnd;
    private byte[] original;
    private byte[] good;
    private byte[] tempArr;
    private ByteBuffer temp;
    private long fileSize;
    private long testcalls;
    private final long[] opCounts = new long[OP_MAX];
    private final long[] opNanos = new long[OP_MAX];
    /** Test seam: runs after each operation's checks with the operation number (a unit test corrupts the file). */
    java.util.function.LongConsumer afterOp;
    /** Asked before each operation; false ends the run early (FsxLoop's time budget), still with the final check. */
    java.util.function.BooleanSupplier keepGoing = () -> true;
    /** The failing check's mismatched bytes (from the first bad one to the end of the read) and first bad offset. */
    private long badBytes;
    private long firstBadOffset = -1;
    private FileChannel ch;
    private FileChannel mapCh;
    private LibC.Fd lfd;
    private BufferedWriter opsOut;
    private Path opsFile;
    private Path goodFile;
    private List<String> replayLines;
    private int replayPos;
    private boolean fallocateCalls;
    private boolean keepSizeCalls;
    private boolean punchHoleCalls;
    private boolean zeroRangeCalls;
    private boolean closeopen;

    /** The in-memory log: a ring of the last LOGSIZE operations. */
    private final LogEntry[] log = new LogEntry[LOGSIZE];
    private long logcount;

    record LogEntry(long opnum, int op, long off, long len, long sizeBefore, int flags) {
        boolean skipped() {
            return (flags & FL_SKIPPED) != 0;
        }

        /** The byte range this operation changed (empty for reads, fsync and skips). */
        long[] changed() {
            if (skipped()) {
                return new long[] {0, 0};
            }
            return switch (op) {
                case OP_WRITE, OP_MAPWRITE -> new long[] {Math.min(off, sizeBefore), off + len};
                case OP_TRUNCATE -> new long[] {Math.min(len, sizeBefore), Math.max(len, sizeBefore)};
                case OP_FALLOCATE -> (flags & FL_KEEP_SIZE) != 0 || off + len <= sizeBefore
                    ? new long[] {0, 0} : new long[] {sizeBefore, off + len};
                case OP_PUNCH_HOLE, OP_ZERO_RANGE -> new long[] {off, off + len};
                default -> new long[] {0, 0};
            };
        }

        boolean read() {
            return !skipped() && (op == OP_READ || op == OP_MAPREAD);
        }

        String line() {
            StringBuilder b = new StringBuilder();
            if (skipped()) {
                b.append("skip ");
            }
            b.append(OP_NAMES[op]).append(" 0x").append(Long.toHexString(off)).append(" 0x")
                .append(Long.toHexString(len)).append(" 0x").append(Long.toHexString(sizeBefore));
            if ((flags & FL_KEEP_SIZE) != 0) {
                b.append(" keep_size");
            }
            if ((flags & FL_CLOSE_OPEN) != 0) {
                b.append(" close_open");
            }
            return b.toString();
        }

        String describe() {
            String what = switch (op) {
                case OP_TRUNCATE -> String.format("TRUNCATE %s\tfrom 0x%x to 0x%x", len < sizeBefore ? "DOWN" : "UP",
                    sizeBefore, len);
                case OP_FSYNC -> "FSYNC";
                case OP_FALLOCATE -> String.format("FALLOC   0x%x thru 0x%x\t(0x%x bytes) %s", off, off + len, len,
                    off + len <= sizeBefore ? "INTERIOR" : (flags & FL_KEEP_SIZE) != 0 ? "PAST_EOF" : "EXTENDING");
                default -> String.format("%-8s 0x%x thru 0x%x\t(0x%x bytes)%s", OP_NAMES[op].toUpperCase(), off,
                    off + len - 1, len, op == OP_WRITE || op == OP_MAPWRITE
                        ? off > sizeBefore ? " HOLE" : off + len > sizeBefore ? " EXTEND" : "" : "");
            };
            return String.format("%d(%3d mod 256): %s%s", opnum, opnum % 256, skipped() ? "SKIPPED " : "", what);
        }
    }

    /** A check that failed or a call that failed: fsx's report_failure with its status. */
    static final class Failure extends RuntimeException {
        final int status;

        Failure(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    public Fsx() {
        this(System.out);
    }

    Fsx(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(Cli.run("fsx", new Fsx(), args));
    }

    @Override
    public Integer call() throws Exception {
        validate();
        if (replay != null) {
            readReplayHeader();
        }
        if (seed == 0) {
            seed = (System.nanoTime() ^ ProcessHandle.current().pid()) & 0x7fffffffL;
            if (seed == 0) {
                seed = 1;
            }
        }
        prt("Seed set to " + seed);
        rnd = new Random(seed);
        int maxLen = (int) maxFileLen;
        original = new byte[maxLen];
        for (int i = 0; i < maxLen; i++) {
            original[i] = (byte) rnd31();
        }
        good = new byte[maxLen];
        tempArr = new byte[(int) maxOpLen];
        temp = PageCache.alignedBuffer((int) maxOpLen);

        Path dir = logDir != null ? logDir : file.toAbsolutePath().getParent();
        String base = file.getFileName().toString();
        if (logDir != null) {
            Files.createDirectories(logDir);
        }
        opsFile = dir.resolve(base + ".fsxops");
        goodFile = dir.resolve(base + ".fsxgood");
        Files.deleteIfExists(goodFile);

        Files.newByteChannel(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING).close();
        openFile();
        opsOut = Files.newBufferedWriter(opsFile, StandardCharsets.UTF_8);
        opsOut.write(String.format("# iomapfs fsx seed %d max-file-len %d max-op-len %d direct-io %s%n", seed,
            maxFileLen, maxOpLen, directIo));
        Thread hook = new Thread(() -> {
            out.println("testcalls = " + testcalls);
            flushOps();
        });
        Runtime.getRuntime().addShutdownHook(hook);
        long start = System.nanoTime();
        try {
            checkTruncHack();
            fallocateCalls = !noFallocate && testFallocate(0, "0");
            keepSizeCalls = !noKeepSize && testFallocate(LibC.FALLOC_FL_KEEP_SIZE, "FALLOC_FL_KEEP_SIZE");
            punchHoleCalls = !noPunchHole && testFallocate(LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE,
                "FALLOC_FL_PUNCH_HOLE");
            zeroRangeCalls = !noZeroRange && testFallocate(LibC.FALLOC_FL_ZERO_RANGE, "FALLOC_FL_ZERO_RANGE");

            while ((numOps < 0 || testcalls < numOps) && keepGoing.getAsBoolean()) {
                if (!test()) {
                    break;
                }
                if (checkEvery > 0 && testcalls % checkEvery == 0) {
                    fullCheck("check after operation " + testcalls);
                }
            }
            fullCheck("final check");
            closeFile();
        } catch (Failure f) {
            out.println(f.getMessage());
            reportFailure();
            return f.status;
        } finally {
            flushOps();
            opsOut.close();
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        double secs = (System.nanoTime() - start) / 1e9;
        StringBuilder mix = new StringBuilder();
        for (int i = 0; i < OP_MAX; i++) {
            mix.append(i == 0 ? "" : ", ").append(OP_NAMES[i]).append(' ').append(opCounts[i]);
            if (opCounts[i] > 0) {
                mix.append(String.format(" (%.2f ms)", opNanos[i] / 1e6 / opCounts[i]));
            }
        }
        prt(String.format("All %d operations completed A-OK! (%.1f s, %.0f ops/s; done: %s)", testcalls, secs,
            testcalls / secs, mix));
        return 0;
    }

    /** Checks the options (Cli.BadArgument names the bad one) and fills in the boundaries' defaults. */
    void validate() {
        if (maxFileLen <= 0 || maxFileLen > Integer.MAX_VALUE - 16) {
            throw new Cli.BadArgument("--max-file-len must be between 1 and " + (Integer.MAX_VALUE - 16));
        }
        if (maxOpLen <= 0 || maxOpLen > 64L * 1024 * 1024) {
            throw new Cli.BadArgument("--max-op-len must be between 1 and 64m");
        }
        if (readBdy == null) {
            readBdy = directIo ? PageCache.DIO_ALIGN : 1;
        }
        if (writeBdy == null) {
            writeBdy = directIo ? PageCache.DIO_ALIGN : 1;
        }
        if (readBdy <= 0 || writeBdy <= 0 || truncBdy <= 0) {
            throw new Cli.BadArgument("boundaries (-r, -w, -t) must be positive");
        }
        if (directIo && (readBdy % PageCache.DIO_ALIGN != 0 || writeBdy % PageCache.DIO_ALIGN != 0)) {
            throw new Cli.BadArgument("--direct-io needs --read-boundary and --write-boundary multiples of "
                + PageCache.DIO_ALIGN);
        }
        if (closeProb < 0) {
            throw new Cli.BadArgument("--close-open must be positive");
        }
        if (!daemonRead.equals("both") && !daemonRead.equals("odirect")) {
            throw new Cli.BadArgument("bad --daemon-read '" + daemonRead + "' (both or odirect)");
        }
        if (checkEvery < 0 || progressEvery < 0) {
            throw new Cli.BadArgument("--check-every and --progress must not be negative");
        }
        if (!Files.isDirectory(file.toAbsolutePath().getParent())) {
            throw new Cli.BadArgument("no directory " + file.toAbsolutePath().getParent() + " for " + file);
        }
        if (replay != null && !Files.isReadable(replay)) {
            throw new Cli.BadArgument("cannot read the replay log " + replay);
        }
    }

    // ---- files

    private void openFile() throws IOException {
        List<OpenOption> opts = new ArrayList<>(List.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        if (directIo) {
            opts.add(ExtendedOpenOption.DIRECT);
        }
        ch = FileChannel.open(file, opts.toArray(OpenOption[]::new));
        // fsx maps its one descriptor; with -Z a buffered descriptor carries the mappings, the DIO one the I/O
        mapCh = directIo ? FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE) : ch;
        lfd = LibC.Fd.openReadWrite(file);
    }

    private void closeFile() throws IOException {
        if (mapCh != ch) {
            mapCh.close();
        }
        ch.close();
        lfd.close();
    }

    private void docloseopen() {
        if (debug) {
            prt(testcalls + " close/open");
        }
        try {
            closeFile();
            openFile();
        } catch (IOException e) {
            throw fail(180, "docloseopen: " + e);
        }
    }

    /** fsx check_trunc_hack: truncate must extend. */
    private void checkTruncHack() throws IOException {
        lfd.ftruncate(0);
        lfd.ftruncate(100000);
        if (ch.size() != 100000) {
            out.println("no extend on truncate! not posix!");
            throw new Failure(130, "size after ftruncate(100000) is " + ch.size());
        }
        lfd.ftruncate(0);
    }

    private boolean testFallocate(int mode, String name) throws IOException {
        try {
            lfd.fallocate(mode, 0, 1);
        } catch (LibC.ErrnoException e) {
            if (e.errno == LibC.EOPNOTSUPP) {
                if (!quiet) {
                    prt("main: filesystem does not support fallocate mode " + name + ", disabling!");
                }
                return false;
            }
            throw e;
        }
        lfd.ftruncate(0);
        return true;
    }

    // ---- one operation

    private int rnd31() {
        return rnd.nextInt() >>> 1;
    }

    private boolean test() {
        testcalls++;
        int op;
        long offset;
        long size;
        boolean keepSize = false;
        if (replayLines != null) {
            LogEntry e = nextReplayEntry();
            if (e == null) {
                testcalls--;
                return false;
            }
            closeopen = (e.flags & FL_CLOSE_OPEN) != 0;
            if (e.skipped()) {
                logOp(e.op, e.off, e.len, e.flags);
                finishOp();
                return true;
            }
            op = e.op;
            offset = e.off;
            size = e.len;
            keepSize = (e.flags & FL_KEEP_SIZE) != 0;
        } else {
            int rv = rnd31();
            if (closeProb > 0) {
                closeopen = (rv >> 3) < (1 << 28) / closeProb;
            }
            offset = rnd31();
            size = fixedOpLen ? maxOpLen : rnd31() % (maxOpLen + 1);
            op = rv % OP_MAX;
            switch (op) {
                case OP_TRUNCATE -> size = rnd31() % maxFileLen;
                case OP_FALLOCATE -> {
                    if (fallocateCalls && size > 0 && keepSizeCalls) {
                        keepSize = rnd31() % 2 == 1;
                    }
                }
                case OP_ZERO_RANGE -> {
                    if (zeroRangeCalls && size > 0 && keepSizeCalls) {
                        keepSize = rnd31() % 2 == 1;
                    }
                }
                default -> { }
            }
        }
        boolean disabled = switch (op) {
            case OP_MAPREAD -> {
                if (noMappedReads) {
                    op = OP_READ;
                }
                yield false;
            }
            case OP_MAPWRITE -> {
                if (noMappedWrites) {
                    op = OP_WRITE;
                }
                yield false;
            }
            case OP_FALLOCATE -> !fallocateCalls;
            case OP_PUNCH_HOLE -> !punchHoleCalls;
            case OP_ZERO_RANGE -> !zeroRangeCalls;
            case OP_TRUNCATE -> noTruncate;
            case OP_FSYNC -> noFsync;
            default -> false;
        };
        if (disabled) {
            logOp(op, offset, size, FL_SKIPPED);
            finishOp();
            return true;
        }
        long t0 = System.nanoTime();
        try {
            switch (op) {
                case OP_READ -> {
                    offset = trimOff(offset, fileSize);
                    size = trimLen(offset, size, fileSize);
                    doread(offset, size);
                }
                case OP_WRITE -> {
                    offset = trimOff(offset, maxFileLen);
                    size = trimLen(offset, size, maxFileLen);
                    dowrite(offset, size);
                }
                case OP_MAPREAD -> {
                    offset = trimOff(offset, fileSize);
                    size = trimLen(offset, size, fileSize);
                    domapread(offset, size);
                }
                case OP_MAPWRITE -> {
                    offset = trimOff(offset, maxFileLen);
                    size = trimLen(offset, size, maxFileLen);
                    domapwrite(offset, size);
                }
                case OP_TRUNCATE -> dotruncate(size);
                case OP_FALLOCATE -> {
                    offset = trimOff(offset, maxFileLen);
                    size = trimLen(offset, size, maxFileLen);
                    doPreallocate(offset, size, keepSize);
                }
                case OP_PUNCH_HOLE -> {
                    offset = trimOff(offset, fileSize);
                    size = trimLen(offset, size, fileSize);
                    doPunchHole(offset, size);
                }
                case OP_ZERO_RANGE -> {
                    offset = trimOff(offset, fileSize);
                    size = trimLen(offset, size, fileSize);
                    doZeroRange(offset, size, keepSize);
                }
                case OP_FSYNC -> dofsync();
                default -> throw fail(42, "test: unknown operation " + op);
            }
        } catch (IOException e) {
            throw fail(callStatus(op), OP_NAMES[op] + " failed: " + e);
        }
        opNanos[op] += System.nanoTime() - t0;
        finishOp();
        if (afterOp != null) {
            afterOp.accept(testcalls);
        }
        return true;
    }

    /** fsx's status codes for a failed call of each operation. */
    private static int callStatus(int op) {
        return switch (op) {
            case OP_READ -> 141;
            case OP_WRITE -> 151;
            case OP_MAPREAD -> 190;
            case OP_MAPWRITE -> 202;
            case OP_TRUNCATE -> 160;
            case OP_FSYNC -> 152;
            default -> 161;
        };
    }

    private static long trimOff(long off, long size) {
        return size > 0 ? off % size : 0;
    }

    private static long trimLen(long off, long len, long size) {
        return off + len > size ? size - off : len;
    }

    private void finishOp() {
        try {
            long st = ch.size();
            if (st != fileSize) {
                throw fail(120, String.format("Size error: expected 0x%x stat 0x%x", fileSize, st));
            }
        } catch (IOException e) {
            throw fail(120, "check_size: fstat: " + e);
        }
        if (closeopen) {
            docloseopen();
        }
        if (progressEvery > 0 && testcalls % progressEvery == 0) {
            prt(testcalls + " operations, file size 0x" + Long.toHexString(fileSize));
        }
    }

    private void logOp(int op, long off, long len, int flags) {
        if (closeopen) {
            flags |= FL_CLOSE_OPEN;
        }
        LogEntry e = new LogEntry(testcalls, op, off, len, fileSize, flags);
        log[(int) (logcount % LOGSIZE)] = e;
        logcount++;
        opCounts[op] += e.skipped() ? 0 : 1;
        try {
            opsOut.write(e.line());
            opsOut.newLine();
            // flushed per operation: a replay log must survive the JVM dying mid-run (a SIGBUS from a mapping)
            opsOut.flush();
        } catch (IOException ex) {
            throw fail(93, "writing " + opsFile + ": " + ex);
        }
        if (debug) {
            prt(e.describe());
        }
    }

    private void doread(long offset, long size) throws IOException {
        offset -= offset % readBdy;
        if (directIo) {
            size -= size % readBdy;
        }
        if (size == 0 || size + offset > fileSize) {
            logOp(OP_READ, offset, size, FL_SKIPPED);
            return;
        }
        logOp(OP_READ, offset, size, 0);
        temp.clear().limit((int) size);
        int n = ch.read(temp, offset);
        if (n != size) {
            throw fail(141, String.format("short read: 0x%x bytes instead of 0x%x", n, size));
        }
        temp.get(0, tempArr, 0, (int) size);
        checkBuffers("READ", offset, tempArr, (int) size);
    }

    private void domapread(long offset, long size) throws IOException {
        offset -= offset % readBdy;
        if (size == 0 || size + offset > fileSize) {
            logOp(OP_MAPREAD, offset, size, FL_SKIPPED);
            return;
        }
        logOp(OP_MAPREAD, offset, size, 0);
        int pg = (int) (offset & PAGE_MASK);
        MappedByteBuffer m = mapCh.map(FileChannel.MapMode.READ_ONLY, offset - pg, pg + size);
        try {
            m.get(pg, tempArr, 0, (int) size);
            checkEofPage("Read", offset, m, size);
        } finally {
            Mappings.unmap(m);
        }
        checkBuffers("MAPREAD", offset, tempArr, (int) size);
    }

    /** fsx gendata: the operation number's low byte, plus the original random byte at odd offsets. */
    private void gendata(long offset, long size) {
        for (int o = (int) offset, end = (int) (offset + size); o < end; o++) {
            good[o] = (byte) (testcalls % 256 + ((o & 1) != 0 ? original[o] : 0));
        }
    }

    /** The shadow copy of a write that may extend the file: zeros between the old size and the write. */
    private void shadowWrite(long offset, long size) {
        gendata(offset, size);
        if (fileSize < offset + size) {
            if (fileSize < offset) {
                Arrays.fill(good, (int) fileSize, (int) offset, (byte) 0);
            }
            fileSize = offset + size;
        }
    }

    private void dowrite(long offset, long size) throws IOException {
        offset -= offset % writeBdy;
        if (directIo) {
            size -= size % writeBdy;
        }
        if (size == 0) {
            logOp(OP_WRITE, offset, size, FL_SKIPPED);
            return;
        }
        logOp(OP_WRITE, offset, size, 0);
        shadowWrite(offset, size);
        ByteBuffer src;
        if (directIo) {
            src = temp.clear().put(0, good, (int) offset, (int) size).limit((int) size);
        } else {
            src = ByteBuffer.wrap(good, (int) offset, (int) size);
        }
        int n = ch.write(src, offset);
        if (n != size) {
            throw fail(151, String.format("short write: 0x%x bytes instead of 0x%x", n, size));
        }
        if (fsyncAfterWrite) {
            ch.force(true);
        }
    }

    private void domapwrite(long offset, long size) throws IOException {
        offset -= offset % writeBdy;
        if (size == 0) {
            logOp(OP_MAPWRITE, offset, size, FL_SKIPPED);
            return;
        }
        long curFileSize = fileSize;
        logOp(OP_MAPWRITE, offset, size, 0);
        shadowWrite(offset, size);
        if (fileSize > curFileSize) {
            // a store past end of file would SIGBUS: extend first, as fsx does
            lfd.ftruncate(fileSize);
        }
        int pg = (int) (offset & PAGE_MASK);
        MappedByteBuffer m = mapCh.map(FileChannel.MapMode.READ_WRITE, offset - pg, pg + size);
        try {
            m.put(pg, good, (int) offset, (int) size);
            m.force();
            checkEofPage("Write", offset, m, size);
        } finally {
            Mappings.unmap(m);
        }
    }

    /**
     * fsx check_eofpage: where the mapping's last page holds end of file, the bytes past end of file in that page
     * must read as zeros (POSIX mmap).
     */
    private void checkEofPage(String what, long offset, MappedByteBuffer m, long size) {
        long end = offset + size;
        if (end <= (fileSize & ~(long) PAGE_MASK)) {
            return;
        }
        byte[] tail = Mappings.tailOfLastPage(m);
        for (int i = (int) (fileSize - end); i < tail.length; i++) {
            if (tail[i] != 0) {
                throw fail(205, String.format("Mapped %s: non-zero data past EOF (0x%x) page offset 0x%x is 0x%02x",
                    what, fileSize - 1, (end + i) & PAGE_MASK, tail[i] & 0xff));
            }
        }
    }

    private void dotruncate(long size) throws IOException {
        size -= size % truncBdy;
        logOp(OP_TRUNCATE, 0, size, 0);
        if (size > fileSize) {
            Arrays.fill(good, (int) fileSize, (int) size, (byte) 0);
        }
        fileSize = size;
        lfd.ftruncate(size);
    }

    private void doPreallocate(long offset, long length, boolean keepSize) throws IOException {
        int kf = keepSize ? FL_KEEP_SIZE : 0;
        if (length == 0) {
            logOp(OP_FALLOCATE, offset, length, FL_SKIPPED | kf);
            return;
        }
        long endOffset = keepSize ? 0 : offset + length;
        logOp(OP_FALLOCATE, offset, length, kf);
        if (endOffset > fileSize) {
            Arrays.fill(good, (int) fileSize, (int) endOffset, (byte) 0);
            fileSize = endOffset;
        }
        lfd.fallocate(keepSize ? LibC.FALLOC_FL_KEEP_SIZE : 0, offset, length);
    }

    private void doPunchHole(long offset, long length) throws IOException {
        if (length == 0 || fileSize <= offset) {
            logOp(OP_PUNCH_HOLE, offset, length, FL_SKIPPED);
            return;
        }
        logOp(OP_PUNCH_HOLE, offset, length, 0);
        lfd.fallocate(LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, offset, length);
        long maxOff = Math.min(offset, fileSize);
        long maxLen = maxOff + length <= fileSize ? length : fileSize - maxOff;
        Arrays.fill(good, (int) maxOff, (int) (maxOff + maxLen), (byte) 0);
    }

    private void doZeroRange(long offset, long length, boolean keepSize) throws IOException {
        int kf = keepSize ? FL_KEEP_SIZE : 0;
        if (length == 0) {
            logOp(OP_ZERO_RANGE, offset, length, FL_SKIPPED | kf);
            return;
        }
        logOp(OP_ZERO_RANGE, offset, length, kf);
        lfd.fallocate(LibC.FALLOC_FL_ZERO_RANGE | (keepSize ? LibC.FALLOC_FL_KEEP_SIZE : 0), offset, length);
        Arrays.fill(good, (int) offset, (int) (offset + length), (byte) 0);
    }

    private void dofsync() throws IOException {
        logOp(OP_FSYNC, 0, 0, 0);
        ch.force(true);
    }

    // ---- checks and reports

    /** fsx check_buffers: compares what a read returned with the shadow copy; reports the first 16 bad bytes. */
    private void checkBuffers(String what, long offset, byte[] got, int size) {
        int first = Arrays.mismatch(good, (int) offset, (int) offset + size, got, 0, size);
        if (first < 0) {
            return;
        }
        out.printf("%s BAD DATA: offset = 0x%x, size = 0x%x, fname = %s%n", what, offset, size, file);
        out.println("OFFSET\tGOOD\tBAD\tRANGE");
        int n = 0;
        long badoff = -1;
        for (int i = first; i < size; i++) {
            if (good[(int) offset + i] != got[i]) {
                if (n < 16) {
                    long o = offset + i;
                    out.printf("0x%05x\t0x%02x\t0x%02x\t0x%05x%n", o, good[(int) o] & 0xff, got[i] & 0xff, n);
                    // gendata puts the op number's low byte at even offsets: name the op that wrote the bad byte
                    int even = (o & 1) == 0 ? i : i - 1;
                    int opByte = even >= 0 ? got[even] & 0xff : 0;
                    out.println(opByte != 0 ? "operation# (mod 256) for the bad data may be " + opByte
                        : "operation# (mod 256) for the bad data unknown, check HOLE and EXTEND ops");
                }
                if (badoff < 0) {
                    badoff = offset + i;
                }
                n++;
            }
        }
        long bad = offset + first;
        badBytes = n;
        firstBadOffset = bad;
        int from = first;
        int to = Math.min(size, first + 16);
        HexFormat hex = HexFormat.ofDelimiter(" ");
        out.printf("first bad offset 0x%x (%d bad bytes in this read)%n  expected %s%n  actual   %s%n", bad, n,
            hex.formatHex(good, (int) offset + from, (int) offset + to), hex.formatHex(got, from, to));
        printOpsTouching(bad);
        throw new Failure(110, what + " returned bad data at 0x" + Long.toHexString(bad));
    }

    private void printOpsTouching(long badoff) {
        List<LogEntry> hits = new ArrayList<>();
        long oldest = Math.max(0, logcount - LOGSIZE);
        for (long i = logcount - 1; i >= oldest && hits.size() < 8; i--) {
            LogEntry e = log[(int) (i % LOGSIZE)];
            long[] r = e.changed();
            if (badoff >= r[0] && badoff < r[1]) {
                hits.add(e);
            }
        }
        out.printf("last operations that changed 0x%x (newest first%s):%n", badoff,
            logcount > LOGSIZE ? "; in-memory log holds the last " + LOGSIZE : "");
        if (hits.isEmpty()) {
            out.println("  none: the byte should be zero (never written, or past every write)");
        }
        for (LogEntry e : hits) {
            out.println("  " + e.describe());
        }
    }

    /**
     * Everything through the daemon: fsync, drop the kernel's caches, then read the whole file with buffered
     * reads (clean pages were dropped, so they come from the daemon) and again with O_DIRECT (with --daemon-read
     * odirect only the latter: FUSE sends an O_DIRECT read to the daemon past the page cache).
     */
    private void fullCheck(String what) {
        try {
            ch.force(true);
            boolean dropped = daemonRead.equals("both") && DaemonRead.dropKernelCaches();
            if (!dropped && daemonRead.equals("both") && !quiet) {
                prt(what + ": cannot drop the kernel caches (not root?); checking with O_DIRECT only");
            }
            long size = Files.size(file);
            if (size != fileSize) {
                throw fail(120, String.format("%s: Size error: expected 0x%x stat 0x%x", what, fileSize, size));
            }
            if (dropped) {
                byte[] all = Files.readAllBytes(file);
                if (all.length != fileSize) {
                    throw fail(120, String.format("%s: read 0x%x bytes of a 0x%x-byte file", what, all.length,
                        fileSize));
                }
                checkBuffers(what + " (buffered read after drop_caches)", 0, all, all.length);
            }
            byte[] direct = DaemonView.direct(file);
            checkBuffers(what + " (O_DIRECT read)", 0, direct, direct.length);
            if (!quiet && checkEvery > 0) {
                prt(what + ": file of 0x" + Long.toHexString(fileSize) + " bytes matches the shadow copy");
            }
        } catch (IOException e) {
            throw fail(170, what + ": " + e);
        }
    }

    private void reportFailure() {
        long shown = Math.min(logcount, 30);
        out.printf("LOG DUMP (%d total operations; the last %d):%n", logcount, shown);
        for (long i = logcount - shown; i < logcount; i++) {
            out.println(log[(int) (i % LOGSIZE)].describe());
        }
        try {
            Files.write(goodFile, Arrays.copyOf(good, (int) fileSize));
            out.printf("Correct content saved for comparison%n(maybe cmp \"%s\" \"%s\")%n", file, goodFile);
        } catch (IOException e) {
            out.println("could not save " + goodFile + ": " + e);
        }
        flushOps();
        out.printf("Log of operations saved to \"%s\"; replay with: fsx --replay %s%s %s%n", opsFile, opsFile,
            directIo ? " -Z" : "", file);
    }

    private void flushOps() {
        try {
            if (opsOut != null) {
                opsOut.flush();
            }
        } catch (IOException ignored) {
            // closed already
        }
    }

    /** Operations run so far (fsx's testcalls). */
    long operations() {
        return testcalls;
    }

    /** Bytes that the failing read found wrong (fsx's count, from the first bad byte on); 0 if no read failed. */
    long badBytes() {
        return badBytes;
    }

    /** Offset of the first bad byte of the failing read; -1 if no read failed. */
    long firstBadOffset() {
        return firstBadOffset;
    }

    private Failure fail(int status, String message) {
        return new Failure(status, message);
    }

    private void prt(String s) {
        out.println(s);
    }

    // ---- replay

    private void readReplayHeader() throws IOException {
        replayLines = Files.readAllLines(replay, StandardCharsets.UTF_8);
        for (String l : replayLines) {
            if (l.startsWith("# iomapfs fsx ")) {
                String[] w = l.substring(2).trim().split("\\s+");
                for (int i = 2; i + 1 < w.length; i += 2) {
                    switch (w[i]) {
                        case "seed" -> seed = Long.parseLong(w[i + 1]);
                        case "max-file-len" -> maxFileLen = Long.parseLong(w[i + 1]);
                        case "max-op-len" -> maxOpLen = Math.max(maxOpLen, Long.parseLong(w[i + 1]));
                        default -> { }
                    }
                }
            }
        }
        replayPos = 0;
    }

    /** The next entry of the replay log, parsed like fsx read_op (plus '#' comment lines); null at its end. */
    private LogEntry nextReplayEntry() {
        while (replayPos < replayLines.size()) {
            String line = replayLines.get(replayPos++).trim();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] w = line.split("\\s+");
            int i = 0;
            int flags = 0;
            if (w[0].equals("skip")) {
                flags |= FL_SKIPPED;
                i++;
            }
            int op = i < w.length ? Arrays.asList(OP_NAMES).indexOf(w[i]) : -1;
            if (op < 0 || w.length < i + 4) {
                throw fail(100, replay + ":" + replayPos + ": parse error: " + line);
            }
            long[] args = new long[3];
            try {
                for (int k = 0; k < 3; k++) {
                    args[k] = Long.decode(w[i + 1 + k]);
                }
            } catch (NumberFormatException e) {
                throw fail(100, replay + ":" + replayPos + ": parse error: " + line);
            }
            for (int k = i + 4; k < w.length; k++) {
                switch (w[k]) {
                    case "keep_size" -> flags |= FL_KEEP_SIZE;
                    case "close_open" -> flags |= FL_CLOSE_OPEN;
                    case "*" -> { }
                    default -> throw fail(100, replay + ":" + replayPos + ": parse error: " + line);
                }
            }
            return new LogEntry(testcalls, op, args[0], args[1], args[2], flags);
        }
        return null;
    }
}
