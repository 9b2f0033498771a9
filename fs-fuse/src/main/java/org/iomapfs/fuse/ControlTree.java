package org.iomapfs.fuse;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The directory tree of {@code /.iomapfs/} built from {@code Controls.keys()}: a key {@code bugs/stale-iomap}
 * becomes the file {@code stale-iomap} in the directory {@code bugs}. Immutable; rebuilt when the key list
 * changes.
 */
final class ControlTree {
    /** The control directory's name in the mount root. */
    static final String NAME = ".iomapfs";
    static final String ROOT = "/" + NAME;
    /** Inode numbers of control nodes live far above anything the engine hands out (FUSE use_ino). */
    private static final long INO_BASE = 0x7fff_ff00_0000_0000L;

    /** A directory (key == null) or a file backed by a control key. */
    record Node(String path, String key, List<String> children, long ino) {
        boolean isDir() { return key == null; }
    }

    private final List<String> keys;
    private final Map<String, Node> nodes;

    private ControlTree(List<String> keys, Map<String, Node> nodes) {
        this.keys = keys;
        this.nodes = nodes;
    }

    static boolean isControlPath(String path) {
        return path != null && (path.equals(ROOT) || path.startsWith(ROOT + "/"));
    }

    static ControlTree build(List<String> keys) {
        Map<String, List<String>> dirs = new LinkedHashMap<>();
        Map<String, String> files = new LinkedHashMap<>();
        dirs.put(ROOT, new ArrayList<>());
        for (String key : keys) {
            if (key.isEmpty() || key.startsWith("/") || key.endsWith("/") || key.contains("//")) {
                throw new IllegalArgumentException("control key '" + key + "' is not a relative path");
            }
            String parent = ROOT;
            String[] parts = key.split("/");
            for (int i = 0; i < parts.length; i++) {
                String child = parent + "/" + parts[i];
                boolean last = i == parts.length - 1;
                if (last) {
                    if (dirs.containsKey(child) || files.containsKey(child)) {
                        throw new IllegalArgumentException("control key '" + key + "' clashes with another key");
                    }
                    files.put(child, key);
                } else if (!dirs.containsKey(child)) {
                    if (files.containsKey(child)) {
                        throw new IllegalArgumentException("control key '" + key + "' clashes with another key");
                    }
                    dirs.put(child, new ArrayList<>());
                } else {
                    parent = child;
                    continue;
                }
                dirs.get(parent).add(parts[i]);
                parent = child;
            }
        }
        Map<String, Node> nodes = new LinkedHashMap<>();
        long ino = INO_BASE;
        for (Map.Entry<String, List<String>> d : dirs.entrySet()) {
            nodes.put(d.getKey(), new Node(d.getKey(), null, List.copyOf(d.getValue()), ino++));
        }
        for (Map.Entry<String, String> f : files.entrySet()) {
            nodes.put(f.getKey(), new Node(f.getKey(), f.getValue(), List.of(), ino++));
        }
        return new ControlTree(List.copyOf(keys), nodes);
    }

    List<String> keys() { return keys; }

    /** The node at a mount path such as {@code /.iomapfs/bugs/stale-iomap}, or null. */
    Node lookup(String path) { return nodes.get(path); }
}
