package org.iomapfs.core.api;

/** An engine error carrying the errno that the mount returns and a one-line message naming the cause. */
public class FsException extends RuntimeException {
    private final Errno errno;

    public FsException(Errno errno, String message) {
        super(message);
        this.errno = errno;
    }

    public FsException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public Errno errno() { return errno; }

    @Override
    public String toString() { return errno + ": " + getMessage(); }
}
