package org.iomapfs.core.explore;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The shadow model: the file as a byte array, changed by the scenario's operations in an order they could
 * have taken effect in. An operation takes effect atomically somewhere between its start and its return, so
 * the candidate orders are the interleavings of the threads' operation lists in which an operation that
 * returned before another started comes before it. The run passes if any candidate gives the file's bytes.
 */
final class Shadow {
    private Shadow() { }

    static String check(List<Execution.Done> setup, List<List<Execution.Done>> threads, byte[] actual) {
        byte[] base = new byte[0];
        for (Execution.Done d : setup) {
            base = apply(base, d);
        }
        List<List<Execution.Done>> eff = new ArrayList<>();
        for (List<Execution.Done> t : threads) {
            List<Execution.Done> e = new ArrayList<>();
            for (Execution.Done d : t) {
                if (d.op.changesData() && !d.failed) {
                    e.add(d);
                }
            }
            eff.add(e);
        }
        byte[][] first = new byte[1][];
        if (search(base, eff, new int[eff.size()], actual, first)) {
            return null;
        }
        byte[] want = first[0];
        if (want.length != actual.length) {
            return "file size " + actual.length + ", the shadow model says " + want.length;
        }
        int at = -1;
        int n = 0;
        for (int i = 0; i < want.length; i++) {
            if (want[i] != actual[i]) {
                n++;
                if (at < 0) {
                    at = i;
                }
            }
        }
        return String.format("%d bytes differ from the shadow model, first at byte %d (block %d): 0x%02x, want 0x%02x",
                n, at, at / 4096, actual[at], want[at]);
    }

    private static boolean search(byte[] state, List<List<Execution.Done>> eff, int[] next, byte[] actual, byte[][] first) {
        boolean any = false;
        for (int t = 0; t < eff.size(); t++) {
            if (next[t] == eff.get(t).size()) {
                continue;
            }
            Execution.Done x = eff.get(t).get(next[t]);
            boolean minimal = true;
            for (int u = 0; u < eff.size(); u++) {
                if (u != t && next[u] < eff.get(u).size() && eff.get(u).get(next[u]).end < x.start) {
                    minimal = false;
                }
            }
            if (!minimal) {
                continue;
            }
            any = true;
            next[t]++;
            boolean ok = search(apply(state, x), eff, next, actual, first)
                    || x.maybeLost && search(state, eff, next, actual, first);
            next[t]--;
            if (ok) {
                return true;
            }
        }
        if (any) {
            return false;
        }
        if (first[0] == null) {
            first[0] = state;
        }
        return Arrays.equals(state, actual);
    }

    private static byte[] apply(byte[] s, Execution.Done d) {
        Scenario.Op op = d.op;
        long off = op.off();
        return switch (op.kind()) {
            case "write", "dwrite" -> put(s, off, op.bytes(), (int) d.ret, true);
            case "writepage" -> put(s, off, op.bytes(), (int) Math.max(0, Math.min(d.ret, s.length - off)), false);
            case "mwrite" -> put(s, off, op.bytes(), (int) Math.max(0, Math.min(op.len(), s.length - off)), false);
            case "writefrommap" -> {
                byte[] src = Arrays.copyOfRange(s, (int) Math.min(op.arg(), s.length), (int) Math.min(op.arg() + d.ret, s.length));
                yield put(s, off, Arrays.copyOf(src, (int) d.ret), (int) d.ret, true);
            }
            case "mapread" -> {
                byte[] src = Arrays.copyOfRange(s, (int) Math.min(off, s.length), (int) Math.min(off + d.ret, s.length));
                yield put(s, op.arg(), src, (int) Math.min(src.length, Math.max(0, s.length - op.arg())), false);
            }
            case "truncate" -> Arrays.copyOf(s, (int) off);
            case "punch" -> zero(s, off, op.len(), false);
            case "zero" -> zero(s, off, op.len(), true);
            case "fallocate" -> op.arg() == 1 || off + op.len() <= s.length ? s : Arrays.copyOf(s, (int) (off + op.len()));
            default -> s;
        };
    }

    private static byte[] put(byte[] s, long off, byte[] data, int n, boolean extend) {
        if (n <= 0) {
            return s;
        }
        byte[] r = Arrays.copyOf(s, extend ? (int) Math.max(s.length, off + n) : s.length);
        System.arraycopy(data, 0, r, (int) off, n);
        return r;
    }

    private static byte[] zero(byte[] s, long off, long len, boolean extend) {
        byte[] r = Arrays.copyOf(s, extend ? (int) Math.max(s.length, off + len) : s.length);
        Arrays.fill(r, (int) Math.min(off, r.length), (int) Math.min(off + len, r.length), (byte) 0);
        return r;
    }
}
