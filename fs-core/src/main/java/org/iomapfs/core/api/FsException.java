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

    private FsException(Errno errno, String message, boolean writableStackTrace) {
        super(message, null, false, writableStackTrace);
        this.errno = errno;
    }

    /**
     * An error that is an answer rather than a fault, such as ENOENT for a name that is not there or ENODATA for an
     * attribute that is not set: no stack trace is taken. The kernel asks for security.capability before every
     * write to a FUSE file (file_remove_privs; FUSE never sets SB_NOSEC), so that ENODATA is the commonest reply
     * the daemon sends, and walking the stack for it cost more than the lookup.
     */
    public static FsException answer(Errno errno, String message) {
        return new FsException(errno, message, false);
    }

    public Errno errno() { return errno; }

    @Override
    public String toString() { return errno + ": " + getMessage(); }
}
