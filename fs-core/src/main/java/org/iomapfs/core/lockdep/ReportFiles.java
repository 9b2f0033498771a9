package org.iomapfs.core.lockdep;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** Lockdep reports as files in one directory, so a test run can collect those of daemons in other processes. */
public final class ReportFiles {
    private static final AtomicInteger SEQ = new AtomicInteger();

    private ReportFiles() { }

    static void write(Path dir, String report) {
        try {
            Files.createDirectories(dir);
            Path f = dir.resolve("lockdep-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet() + ".txt");
            Files.writeString(f, report, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("lockdep: cannot write the report to " + dir, e);
        }
    }
}
