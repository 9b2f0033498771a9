package org.iomapfs.core.explore;

import org.iomapfs.core.bugs.Bug;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A schedule saved for {@code iomapfs explore --replay FILE}: the bug switches, the schedule string, the
 * outcome it had, its steps (as comments) and the scenario it runs in, so the file replays on its own.
 */
public record SavedSchedule(Map<Bug, Boolean> bugs, String schedule, String expect, Scenario scenario) {
    private static final String SCENARIO_MARK = "--- scenario";

    public void save(Path file, List<String> steps) throws IOException {
        StringBuilder sb = new StringBuilder("# iomapfs explore schedule: replay with `iomapfs explore --replay ")
                .append(file.getFileName()).append("`\n");
        List<String> on = new ArrayList<>();
        bugs.forEach((b, v) -> on.add(b.id + "=" + (v ? "buggy" : "fixed")));
        sb.append("bugs ").append(String.join(",", on)).append('\n');
        sb.append("schedule ").append(schedule).append('\n');
        sb.append("expect ").append(expect == null ? "pass" : expect.replace('\n', ' ')).append('\n');
        for (String s : steps) {
            sb.append("# ").append(s.replace('\n', ' ')).append('\n');
        }
        sb.append(SCENARIO_MARK).append('\n').append(scenario.toText());
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
    }

    public static SavedSchedule load(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        int at = text.indexOf(SCENARIO_MARK + "\n");
        if (at < 0) {
            throw new IllegalArgumentException(file + ": not a saved schedule (no '" + SCENARIO_MARK + "' line)");
        }
        Map<Bug, Boolean> bugs = new LinkedHashMap<>();
        String schedule = null;
        String expect = null;
        for (String l : text.substring(0, at).split("\n")) {
            if (l.startsWith("bugs ")) {
                for (String kv : l.substring(5).trim().split(",")) {
                    if (!kv.isBlank()) {
                        String[] p = kv.split("=");
                        bugs.put(Bug.byId(p[0]), p[1].equals("buggy"));
                    }
                }
            } else if (l.startsWith("schedule")) {
                schedule = l.substring(8).trim();
            } else if (l.startsWith("expect ")) {
                expect = l.substring(7).trim();
            }
        }
        if (schedule == null) {
            throw new IllegalArgumentException(file + ": no 'schedule' line");
        }
        Scenario sc = Scenario.parse(text.substring(at + SCENARIO_MARK.length() + 1), file.getFileName().toString());
        return new SavedSchedule(bugs, schedule, expect, sc);
    }
}
