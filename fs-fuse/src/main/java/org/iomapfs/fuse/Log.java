package org.iomapfs.fuse;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/** The daemon's log: stderr, which the background mount sends to a log file. */
public final class Log {
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");

    private Log() { }

    public static void info(String msg) {
        System.err.println(LocalDateTime.now().format(TS) + " " + msg);
    }

    public static void error(String msg, Throwable t) {
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        System.err.println(LocalDateTime.now().format(TS) + " ERROR " + msg + ": " + sw);
    }
}
