package org.iomapfs.core.bugs;

/**
 * Historical bugs that can be switched back on, named as in ../shared/design/model.md section 4. Each is read
 * only at the site of its upstream fix. Only those listed here exist; the rest of the catalog is to come.
 */
public enum Bug {
    /** d7b64041164c "iomap: write iomap validity checks" / 304a68b9c63b "xfs: use iomap_valid method to detect stale cached iomaps". */
    STALE_IOMAP("stale-iomap");

    public final String id;

    Bug(String id) { this.id = id; }

    public static Bug byId(String id) {
        for (Bug b : values()) {
            if (b.id.equals(id)) {
                return b;
            }
        }
        return null;
    }
}
