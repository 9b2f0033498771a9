package org.iomapfs.shim.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.Map;
import java.util.Optional;

/**
 * The last line a workload prints: {@code RESULT {json}}, which the compare runner parses. Corruption counts
 * are of what the workload found wrong anywhere it looked (through its mapping, or through the daemon).
 *
 * @param firstCorruptionMs ms from the workload's start to the check that first found corruption, -1 if none
 * @param detail            per-place counts and anything else the workload wants on record
 */
public record Summary(String workload, long rounds, long ops, long corruptedMarkers, long corruptedBytes,
                      long firstCorruptionMs, long elapsedMs, Map<String, Object> detail) {
    public static final String PREFIX = "RESULT ";
    /** Lines {@code PROGRESS ops=N corrupted=M} that a workload prints while it runs. */
    public static final String PROGRESS = "PROGRESS ";
    private static final ObjectMapper JSON = new ObjectMapper();

    public String line() {
        try {
            return PREFIX + JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The summary in one output line, if it is a RESULT line. */
    public static Optional<Summary> parse(String line) {
        if (!line.startsWith(PREFIX)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(line.substring(PREFIX.length()), Summary.class));
        } catch (JsonProcessingException e) {
            return Optional.empty();
        }
    }

    public static String progress(long ops, long corrupted, long elapsedMs) {
        return PROGRESS + "ops=" + ops + " corrupted=" + corrupted + " elapsedMs=" + elapsedMs;
    }
}
