package org.iomapfs.shim.compare;

import java.util.Map;

/**
 * One workload run against one mode.
 *
 * @param bugFired   increase of each bug-fired counter during the run, by bug name
 * @param metrics    every metrics sample that changed during the run, by its increase
 * @param injections the inject/ knobs set for the run
 * @param detail     the workload's own record from its RESULT line (fsx: the failing rounds and their seeds)
 * @param error      why the run gave no result (null when it did)
 */
public record RunResult(String workload, String mode, long rounds, long ops, long elapsedMs, double opsPerSec,
                        long corruptedMarkers, long corruptedBytes, long firstCorruptionMs,
                        Map<String, Long> bugFired, Map<String, Double> metrics, Map<String, String> injections,
                        Map<String, Object> detail, int exitCode, String error) {
    boolean corrupted() {
        return corruptedMarkers > 0 || corruptedBytes > 0;
    }

    long bugFiredTotal() {
        return bugFired.values().stream().mapToLong(Long::longValue).sum();
    }
}
