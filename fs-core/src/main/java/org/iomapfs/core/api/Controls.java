package org.iomapfs.core.api;

import java.util.List;

/**
 * Runtime knobs and read-outs of a live engine, in the spirit of XFS's /sys/fs/xfs/DEV/errortag/: keys such
 * as {@code mode}, {@code bugs/NAME}, {@code inject/KNOB}, {@code metrics}, {@code trace}, {@code drop_caches}
 * and {@code sync}. The mount shows them as files under {@code /.iomapfs/}.
 */
public interface Controls {
    /** Every key, with '/' separating directory levels, in a stable order. */
    List<String> keys();

    /** Whether {@code write} is allowed for this key. */
    boolean writable(String key);

    /** The current value as text ending in a newline; ENOENT for an unknown key. */
    String read(String key);

    /**
     * Sets a new value (surrounding white space ignored). An unknown key gives ENOENT; a bad value gives
     * EINVAL with a message naming the accepted values, and changes nothing.
     */
    void write(String key, String value);
}
