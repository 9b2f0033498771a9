package org.iomapfs.core.lockdep;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Fails the test during which lockdep reported anything: in this JVM's engines or in a mounted daemon (both
 * write their reports to the {@link LockOrder#DIR_PROPERTY} directory, which the build sets). Registered for
 * every test through JUnit's extension auto-detection.
 */
public final class LockdepExtension implements BeforeEachCallback, AfterEachCallback {
    private static final Set<Path> SEEN = new HashSet<>();

    @Override
    public void beforeEach(ExtensionContext context) {
        synchronized (SEEN) {
            SEEN.addAll(reports());
        }
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        List<Path> fresh = new ArrayList<>();
        synchronized (SEEN) {
            for (Path p : reports()) {
                if (SEEN.add(p)) {
                    fresh.add(p);
                }
            }
        }
        if (!fresh.isEmpty()) {
            StringBuilder sb = new StringBuilder("lockdep reported during " + context.getDisplayName() + ":\n");
            for (Path p : fresh) {
                sb.append(p).append('\n').append(Files.readString(p)).append('\n');
            }
            throw new AssertionError(sb.toString());
        }
    }

    private static List<Path> reports() {
        String dir = System.getProperty(LockOrder.DIR_PROPERTY);
        if (dir == null || !Files.isDirectory(Path.of(dir))) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(Path.of(dir))) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
