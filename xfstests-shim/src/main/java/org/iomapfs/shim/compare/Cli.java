package org.iomapfs.shim.compare;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The {@code iomapfs} command line, run as a process: this module may not link the engine or the FUSE
 * classes, so mkfs, mount and umount are the CLI's. Its class path comes from IOMAPFS_CLI_CLASSPATH (the
 * launcher sets it), or else from this JVM's class path when the CLI's main class is on it (tests).
 */
final class Cli {
    static final String MAIN = "org.iomapfs.fuse.cli.Main";
    static final String ENV = "IOMAPFS_CLI_CLASSPATH";

    private final String classPath;

    private Cli(String classPath) {
        this.classPath = classPath;
    }

    static Cli locate() throws IOException {
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            return new Cli(env);
        }
        if (Cli.class.getClassLoader().getResource(MAIN.replace('.', '/') + ".class") != null) {
            return new Cli(System.getProperty("java.class.path"));
        }
        throw new IOException("cannot find the iomapfs CLI (" + MAIN + "): run through ./iomapfs, or set " + ENV);
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Runs {@code iomapfs ARGS}; returns its output, or throws with it on a non-zero exit. */
    String run(long timeoutSeconds, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-cp", classPath, MAIN));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("iomapfs " + String.join(" ", args) + " did not finish in " + timeoutSeconds + " s");
        }
        String text = new String(out, StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            throw new IOException("iomapfs " + String.join(" ", args) + " exited " + p.exitValue() + ": " + text);
        }
        return text;
    }
}
