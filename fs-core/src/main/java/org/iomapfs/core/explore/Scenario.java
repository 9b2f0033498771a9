package org.iomapfs.core.explore;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A scenario: an initial file state, made by single-threaded setup operations, then two to four threads, each a
 * list of operations on the same file. It names operations only, never an interleaving. Format (one item per
 * line, {@code #} starts a comment, offsets and lengths take {@code k}/{@code m} (KiB, MiB) and {@code p} (4 KiB
 * pages) suffixes and {@code +}/{@code -} sums such as {@code 10p-1}):
 *
 * <pre>
 * name stale-iomap
 * bug stale-iomap          # the switch --mode buggy turns on (default: every switch)
 * cache 1m                 # page-cache budget
 * setup                    # the initial state: extents by type, cached folios and their states
 *   fallocate 0 10p
 *   write 10p-1 1 byte:0x5a
 * thread writer
 *   write 0 9p+1 seed:559
 * thread flusher
 *   writeback 9p 10p-1
 *   drop_caches
 * </pre>
 *
 * Operations: {@code write OFF LEN DATA [short=AT]} (buffered write; with {@code short} the copy-in of the chunk
 * holding AT stops there once, as a source page that faults, and the write retries after faulting it in),
 * {@code mwrite OFF LEN DATA} (store through a shared mapping: page fault + store), {@code read OFF LEN},
 * {@code dread OFF LEN}, {@code dwrite OFF LEN DATA} (O_DIRECT), {@code writepage OFF LEN DATA [short=AT]} (the
 * daemon's FUSE writepage: page_mkwrite with the payload copied inside it), {@code fsync [eio]} (with
 * {@code eio} the writeback it starts fails at submission, once), {@code writeback START END} (writepages,
 * WB_SYNC_NONE), {@code writeback_wait START END} (filemap_write_and_wait_range), {@code fsync}, {@code sync},
 * {@code drop_caches} (evicts every clean folio), {@code reclaim N} (shrinks N folios), {@code truncate SIZE},
 * {@code punch OFF LEN}, {@code zero OFF LEN}, {@code fallocate OFF LEN [keep]}, {@code mapread OFF LEN MAPOFF}
 * (O_DIRECT read into a shared mapping of the same file at MAPOFF), {@code writefrommap OFF LEN MAPOFF}
 * (write(2) whose source is a mapping of the same file at MAPOFF). DATA is {@code byte:0xNN} or
 * {@code seed:N} (seeded random bytes). {@code blocksize N} (default 4096) formats the image with smaller blocks.
 * {@code folio_order N} (default 0) lets buffered writes create folios of up to 2^N pages: the bundled scenarios
 * are the kernels of the bug fixes, with single-page folios. I/O completion is the engine's own worker
 * ("ioend"), run as one more thread of the scenario whenever ioends are queued.
 */
public record Scenario(String name, String bug, long cacheBytes, int blockSize, int folioOrder, List<Op> setup,
                       List<List<Op>> threads, List<String> threadNames, String text) {
    private static final java.util.Map<String, byte[]> BYTES = new java.util.concurrent.ConcurrentHashMap<>();

    /** One operation; {@code line} is its text, used to print and save it. */
    public record Op(String kind, long off, long len, long arg, String data, String line) {
        byte[] bytes() {
            return BYTES.computeIfAbsent(data + "/" + len, k -> make()).clone();
        }

        private byte[] make() {
            byte[] b = new byte[(int) len];
            if (data == null) {
                return b;
            }
            if (data.startsWith("byte:")) {
                java.util.Arrays.fill(b, (byte) parse(data.substring(5)));
            } else if (data.startsWith("seed:")) {
                new Random(parse(data.substring(5))).nextBytes(b);
            } else {
                throw new IllegalArgumentException("bad data " + data + " (byte:0xNN or seed:N)");
            }
            return b;
        }

        /** Whether the operation changes the file's bytes or size (it has a place in the shadow model). */
        boolean changesData() {
            return switch (kind) {
                case "write", "mwrite", "dwrite", "writepage", "truncate", "punch", "zero", "fallocate", "writefrommap",
                     "mapread" -> true;
                default -> false;
            };
        }

        @Override
        public String toString() { return line; }
    }

    public static Scenario load(Path p) throws IOException {
        return parse(Files.readString(p, StandardCharsets.UTF_8), p.getFileName().toString().replaceFirst("\\.scn$", ""));
    }

    /** A scenario bundled with the engine ({@code scenarios/NAME.scn} on the class path), or null. */
    public static Scenario bundled(String name) throws IOException {
        try (var in = Scenario.class.getResourceAsStream("/scenarios/" + name + ".scn")) {
            return in == null ? null : parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), name);
        }
    }

    public static Scenario parse(String text, String defaultName) {
        String name = defaultName;
        String bug = null;
        long cache = 1L << 20;
        int bs = 4096;
        int order = 0;
        List<Op> setup = new ArrayList<>();
        List<List<Op>> threads = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<Op> cur = null;
        int n = 0;
        for (String raw : text.split("\n")) {
            n++;
            String line = raw.replaceFirst("#.*", "").trim();
            if (line.isEmpty()) {
                continue;
            }
            String[] w = line.split("\\s+");
            try {
                switch (w[0]) {
                    case "name" -> name = w[1];
                    case "bug" -> bug = w[1];
                    case "cache" -> cache = parse(w[1]);
                    case "blocksize" -> bs = (int) parse(w[1]);
                    case "folio_order" -> {
                        order = (int) parse(w[1]);
                        if (order < 0 || order > org.iomapfs.core.pagecache.PageCache.MAX_FOLIO_ORDER) {
                            throw new IllegalArgumentException("folio_order takes 0.."
                                    + org.iomapfs.core.pagecache.PageCache.MAX_FOLIO_ORDER + ", not " + w[1]);
                        }
                    }
                    case "setup" -> cur = setup;
                    case "thread" -> {
                        cur = new ArrayList<>();
                        threads.add(cur);
                        names.add(w.length > 1 ? w[1] : "t" + threads.size());
                    }
                    default -> {
                        if (cur == null) {
                            throw new IllegalArgumentException("operation before setup or thread");
                        }
                        cur.add(op(w, line));
                    }
                }
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("scenario " + defaultName + " line " + n + ": " + e.getMessage(), e);
            }
        }
        if (threads.isEmpty()) {
            throw new IllegalArgumentException("scenario " + defaultName + ": no thread");
        }
        return new Scenario(name, bug, cache, bs, order, setup, threads, names, text);
    }

    private static Op op(String[] w, String line) {
        String k = w[0];
        return switch (k) {
            case "write", "mwrite", "dwrite", "writepage" -> {
                long at = -1;
                if (w.length > 4 && w[4].startsWith("short=")) {
                    at = parse(w[4].substring(6));
                }
                yield new Op(k, parse(w[1]), parse(w[2]), at, w.length > 3 ? w[3] : "byte:0x" + Integer.toHexString(0x40 + k.length()), line);
            }
            case "read", "dread", "punch", "zero", "writeback", "writeback_wait" -> {
                long a = parse(w[1]);
                long b = parse(w[2]);
                yield new Op(k, a, k.startsWith("writeback") ? b - a + 1 : b, 0, null, line);
            }
            case "fallocate" -> new Op(k, parse(w[1]), parse(w[2]), w.length > 3 && w[3].equals("keep") ? 1 : 0, null, line);
            case "mapread", "writefrommap" -> new Op(k, parse(w[1]), parse(w[2]), parse(w[3]), null, line);
            case "truncate" -> new Op(k, parse(w[1]), 0, 0, null, line);
            case "reclaim" -> new Op(k, 0, 0, parse(w[1]), null, line);
            case "fsync" -> new Op(k, 0, 0, w.length > 1 && w[1].equals("eio") ? 1 : 0, null, line);
            case "sync", "drop_caches", "unlink", "close" -> new Op(k, 0, 0, 0, null, line);
            default -> throw new IllegalArgumentException("unknown operation " + k);
        };
    }

    /** A number: decimal or 0x hex, with k, m or p (4096) suffixes, and + or - between terms. */
    static long parse(String s) {
        long total = 0;
        int sign = 1;
        int i = 0;
        StringBuilder term = new StringBuilder();
        for (; i <= s.length(); i++) {
            char c = i < s.length() ? s.charAt(i) : '+';
            if ((c == '+' || c == '-') && term.length() > 0) {
                total += sign * term(term.toString());
                term.setLength(0);
                sign = c == '-' ? -1 : 1;
            } else {
                term.append(c);
            }
        }
        return total;
    }

    private static long term(String t) {
        t = t.toLowerCase();
        long mul = 1;
        if (!t.startsWith("0x")) {
            char last = t.charAt(t.length() - 1);
            mul = switch (last) {
                case 'k' -> 1024;
                case 'm' -> 1 << 20;
                case 'p' -> 4096;
                default -> 1;
            };
            if (mul != 1) {
                t = t.substring(0, t.length() - 1);
            }
        }
        return t.startsWith("0x") ? Long.parseLong(t.substring(2), 16) * mul : Long.parseLong(t) * mul;
    }

    /** The same scenario without one operation of one thread (for shrinking); null if that leaves a thread empty of all. */
    Scenario without(int thread, int index) {
        List<List<Op>> ts = new ArrayList<>();
        for (List<Op> t : threads) {
            ts.add(new ArrayList<>(t));
        }
        ts.get(thread).remove(index);
        return new Scenario(name, bug, cacheBytes, blockSize, folioOrder, setup, ts, threadNames, text);
    }

    /** The scenario in its file format (what a saved schedule carries: a shrunk scenario has no file of its own). */
    public String toText() {
        StringBuilder sb = new StringBuilder("name ").append(name).append('\n');
        if (bug != null) {
            sb.append("bug ").append(bug).append('\n');
        }
        sb.append("cache ").append(cacheBytes).append('\n');
        if (blockSize != 4096) {
            sb.append("blocksize ").append(blockSize).append('\n');
        }
        if (folioOrder != 0) {
            sb.append("folio_order ").append(folioOrder).append('\n');
        }
        if (!setup.isEmpty()) {
            sb.append("setup\n");
            setup.forEach(o -> sb.append("  ").append(o.line()).append('\n'));
        }
        for (int i = 0; i < threads.size(); i++) {
            sb.append("thread ").append(threadNames.get(i)).append('\n');
            threads.get(i).forEach(o -> sb.append("  ").append(o.line()).append('\n'));
        }
        return sb.toString();
    }

    public int opCount() {
        int n = 0;
        for (List<Op> t : threads) {
            n += t.size();
        }
        return n;
    }
}
