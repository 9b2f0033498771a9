package org.iomapfs.core.explore;

import org.iomapfs.core.sched.Run;
import org.iomapfs.core.sched.Strategy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * The strategies and the schedule string. A schedule is written as its departures from the default
 * (go on with the current thread, else the lowest-numbered one that can run): {@code "7:1,12:0"} means "at
 * decision 7 run thread 1, at decision 12 thread 0", decisions being the switch points where more than one
 * thread could run. The engine is deterministic under the explorer, so the string replays the run exactly.
 */
public final class Schedules {
    private Schedules() { }

    /** The schedule string of a run's decisions. */
    public static String encode(List<Run.Decision> ds) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ds.size(); i++) {
            Run.Decision d = ds.get(i);
            if (d.chosen() != Strategy.byDefault(d.current(), d.enabled())) {
                sb.append(sb.length() == 0 ? "" : ",").append(i).append(':').append(d.chosen());
            }
        }
        return sb.toString();
    }

    public static Map<Integer, Integer> decode(String s) {
        Map<Integer, Integer> m = new TreeMap<>();
        if (s == null || s.isBlank()) {
            return m;
        }
        for (String p : s.trim().split(",")) {
            String[] kv = p.split(":");
            if (kv.length != 2) {
                throw new IllegalArgumentException("bad schedule element '" + p + "' (want DECISION:THREAD)");
            }
            m.put(Integer.parseInt(kv[0].trim()), Integer.parseInt(kv[1].trim()));
        }
        return m;
    }

    /** Follows given departures from the default; {@link #diverged} if one named a thread that could not run. */
    public static final class Forced implements Strategy {
        private final Map<Integer, Integer> picks;
        boolean diverged;

        public Forced(Map<Integer, Integer> picks) { this.picks = picks; }

        public Forced(String schedule) { this(decode(schedule)); }

        @Override
        public int pick(int decision, int current, int[] enabled) {
            Integer p = picks.get(decision);
            if (p != null) {
                for (int e : enabled) {
                    if (e == p) {
                        return p;
                    }
                }
                diverged = true;
            }
            return Strategy.byDefault(current, enabled);
        }
    }

    /**
     * Exhaustive depth-first search with a preemption bound (CHESS, Musuvathi and Qadeer 2007): every schedule
     * with at most {@code bound} preemptions, each once. Choices where the running thread cannot go on are free.
     */
    public static final class Dfs implements Strategy {
        private record Node(int current, int[] options, int[] idx) { }

        private final int bound;
        private final List<Node> stack = new ArrayList<>();
        private int prefix;
        boolean diverged;

        public Dfs(int bound) { this.bound = bound; }

        @Override
        public int pick(int decision, int current, int[] enabled) {
            if (decision < prefix) {
                Node n = stack.get(decision);
                int want = n.options[n.idx[0]];
                for (int e : enabled) {
                    if (e == want) {
                        return want;
                    }
                }
                diverged = true;
                return Strategy.byDefault(current, enabled);
            }
            int def = Strategy.byDefault(current, enabled);
            int[] opts = new int[enabled.length];
            opts[0] = def;
            int k = 1;
            for (int e : enabled) {
                if (e != def) {
                    opts[k++] = e;
                }
            }
            if (decision == stack.size()) {
                stack.add(new Node(current, opts, new int[1]));
            }
            return def;
        }

        /** Moves to the next schedule; false when every schedule within the bound was run. */
        public boolean next() {
            int pre = 0;
            int[] preUpTo = new int[stack.size() + 1];
            for (int i = 0; i < stack.size(); i++) {
                preUpTo[i] = pre;
                Node n = stack.get(i);
                if (n.current >= 0 && n.options[n.idx[0]] != n.current) {
                    pre++;
                }
            }
            for (int i = stack.size() - 1; i >= 0; i--) {
                Node n = stack.get(i);
                for (int j = n.idx[0] + 1; j < n.options.length; j++) {
                    int cost = n.current >= 0 && n.options[j] != n.current ? 1 : 0;
                    if (preUpTo[i] + cost <= bound) {
                        n.idx[0] = j;
                        while (stack.size() > i + 1) {
                            stack.remove(stack.size() - 1);
                        }
                        prefix = i + 1;
                        return true;
                    }
                }
                stack.remove(i);
            }
            return false;
        }
    }

    /**
     * PCT (Burckhardt et al., ASPLOS 2010): random distinct thread priorities, and {@code depth - 1} random
     * decisions at which the running thread drops to the lowest priorities; the highest-priority thread that
     * can run always runs. Finds any bug of depth {@code d} with probability at least 1/(n k^(d-1)).
     */
    public static final class Pct implements Strategy {
        private final Random rnd;
        private final int depth;
        private int steps;
        private int[] prio;
        private int[] changes;

        public Pct(long seed, int depth, int estimatedSteps) {
            this.rnd = new Random(seed);
            this.depth = depth;
            this.steps = Math.max(1, estimatedSteps);
        }

        /** Updates the estimate of decisions per run (PCT's k) from a finished run. */
        public void observed(int decisions) { steps = Math.max(steps, decisions); }

        @Override
        public void startRun() {
            prio = null;
            changes = new int[depth - 1];
            for (int i = 0; i < changes.length; i++) {
                changes[i] = rnd.nextInt(steps);
            }
        }

        @Override
        public int pick(int decision, int current, int[] enabled) {
            if (prio == null) {
                prio = new int[16];
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < prio.length; i++) {
                    order.add(i);
                }
                java.util.Collections.shuffle(order, rnd);
                for (int i = 0; i < prio.length; i++) {
                    prio[i] = depth + order.get(i);
                }
            }
            for (int i = 0; i < changes.length; i++) {
                if (changes[i] == decision && current >= 0) {
                    prio[current] = i;
                }
            }
            int best = enabled[0];
            for (int e : enabled) {
                if (prio[e] > prio[best]) {
                    best = e;
                }
            }
            return best;
        }
    }

    /** A seeded random walk: every decision uniformly among the threads that can run. */
    public static final class RandomWalk implements Strategy {
        private final Random rnd;

        public RandomWalk(long seed) { this.rnd = new Random(seed); }

        @Override
        public int pick(int decision, int current, int[] enabled) {
            return enabled[rnd.nextInt(enabled.length)];
        }
    }

    static String describe(int[] a) { return Arrays.toString(a); }
}
