package org.iomapfs.fuse;

import com.kenai.jffi.MemoryIO;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.Delegate;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * libfuse 2.9's INIT reply, amended on its way to the kernel with what protocol 7.19 cannot say. libfuse builds
 * {@code fuse_init_out} from the flags it knows and sends its 24 bytes (7.19's struct); the INIT request is
 * processed with a channel of our own ({@code fuse_chan_new}) whose send op adds, where the kernel offered them:
 * <ul>
 * <li>FUSE_HANDLE_KILLPRIV_V2 (7.33), see {@link KillPrivV2};</li>
 * <li>FUSE_MAX_PAGES (7.28) with {@code max_pages}: without it the kernel caps every READ and WRITE at its default
 * of 32 pages (fs/fuse/inode.c FUSE_DEFAULT_MAX_PAGES_PER_REQ), 128 KiB, whatever {@code max_write} says. libfuse 3
 * asks for 256 pages and a 1 MiB max_write (lib/fuse_lowlevel.c do_init, FUSE_MAX_MAX_PAGES); for that the reply
 * grows to the 64 bytes of today's {@code fuse_init_out}, {@code max_pages} being its u16 at offset 28. The kernel
 * takes a reply of any length up to its struct (FUSE_INIT's out_argvar) and reads the flags whatever minor the
 * reply names (process_init_reply); it clamps {@code max_pages} to {@code fs.fuse.max_pages_limit} (default 256).</li>
 * </ul>
 * The channel is made with the loop's receive buffer size, as do_init derives {@code max_write} from
 * {@code fuse_chan_bufsize(req->ch) - 4096}: the session's own channel says 128 KiB + 4 KiB whatever the mount
 * option asked.
 */
final class InitReply {
    static final int FUSE_MAX_PAGES = 1 << 22;
    /** fs/fuse/fuse_i.h FUSE_DEFAULT_MAX_PAGES_PER_REQ: what the kernel uses unless told otherwise. */
    static final int DEFAULT_MAX_PAGES = 32;
    static final int PAGE_SIZE = 4096;
    // struct fuse_in_header is 40 bytes, then fuse_init_in {u32 major, minor, max_readahead, flags}
    private static final int IN_ARG = 40, INIT_FLAGS = 12;
    // struct fuse_out_header {u32 len; s32 error; u64 unique}; fuse_init_out: flags @12, max_pages (u16) @28
    private static final int OUT_HEADER = 16, OUT_ERROR = 4, OUT_MAX_PAGES = 28, INIT_OUT_SIZE = 64;
    private static final int IOV_SIZE = 16; // struct iovec {void *base; size_t len}

    /** struct fuse_chan_ops.send (fuse_lowlevel.h, 2.9). */
    public interface Send {
        @Delegate
        int send(long ch, long iov, long count);
    }

    private final long sessionChannel;
    private final int wantFlags;
    private final int maxPages;
    /** Referenced for as long as the channel may call it: the native stub dies with the Java object. */
    private final Send send = this::send;
    private final ByteBuffer ops = ByteBuffer.allocateDirect(24).order(ByteOrder.nativeOrder());
    /** The amended reply (header and a whole fuse_init_out) and its one iovec. */
    private final ByteBuffer reply = ByteBuffer.allocateDirect(OUT_HEADER + INIT_OUT_SIZE).order(ByteOrder.nativeOrder());
    private final ByteBuffer replyIov = ByteBuffer.allocateDirect(IOV_SIZE).order(ByteOrder.nativeOrder());
    private final long channel;
    private volatile int offered;
    private volatile int granted;
    private volatile int grantedMaxPages = DEFAULT_MAX_PAGES;

    /**
     * @param wantFlags flags to add to the reply's {@code flags} where the kernel offered them
     * @param maxPages  pages per request to ask for with FUSE_MAX_PAGES; none asked at or below the default 32
     */
    InitReply(long sessionChannel, long bufsize, int wantFlags, int maxPages) {
        this.sessionChannel = sessionChannel;
        this.wantFlags = maxPages > DEFAULT_MAX_PAGES ? wantFlags | FUSE_MAX_PAGES : wantFlags & ~FUSE_MAX_PAGES;
        this.maxPages = maxPages;
        Native.LibFuse2 f = Native.fuse();
        long sendAddr = Runtime.getSystemRuntime().getClosureManager().getClosurePointer(Send.class, send).address();
        ops.putLong(0, 0L);        // receive: never called, requests are received on the session's channel
        ops.putLong(8, sendAddr);
        ops.putLong(16, 0L);       // destroy: none
        channel = f.fuse_chan_new(MemoryIO.getInstance().getDirectBufferAddress(ops),
            f.fuse_chan_fd(sessionChannel), bufsize, 0L);
        if (channel == 0) {
            throw new IllegalStateException("libfuse could not create a channel (fuse_chan_new)");
        }
    }

    /** The channel to process the INIT request at {@code req} with; notes the flags the kernel offered. */
    long channel(long req) {
        offered = MemoryIO.getInstance().getInt(req + IN_ARG + INIT_FLAGS);
        return channel;
    }

    /** Whether the kernel took {@code flag}: it was offered and the INIT reply carried it. */
    boolean granted(int flag) {
        return (granted & flag) != 0;
    }

    /** The pages per request the reply asked for: {@link #DEFAULT_MAX_PAGES} unless FUSE_MAX_PAGES was taken. */
    int maxPages() {
        return grantedMaxPages;
    }

    private int send(long ch, long iov, long count) {
        MemoryIO io = MemoryIO.getInstance();
        int add = offered & wantFlags;
        if (add == 0 || count != 2 || io.getInt(io.getAddress(iov) + OUT_ERROR) != 0
                || io.getLong(iov + 8) != OUT_HEADER || io.getLong(iov + IOV_SIZE + 8) < INIT_FLAGS + 4) {
            return Native.fuse().fuse_chan_send(sessionChannel, iov, count);
        }
        long argLen = Math.min(io.getLong(iov + IOV_SIZE + 8), INIT_OUT_SIZE);
        long out = io.getDirectBufferAddress(reply);
        io.setMemory(out, OUT_HEADER + INIT_OUT_SIZE, (byte) 0);
        io.copyMemory(io.getAddress(iov), out, OUT_HEADER);
        io.copyMemory(io.getAddress(iov + IOV_SIZE), out + OUT_HEADER, argLen);
        long len = OUT_HEADER + argLen;
        if ((add & FUSE_MAX_PAGES) != 0) {
            io.putShort(out + OUT_HEADER + OUT_MAX_PAGES, (short) maxPages);
            len = OUT_HEADER + INIT_OUT_SIZE;
        }
        io.putInt(out + OUT_HEADER + INIT_FLAGS, io.getInt(out + OUT_HEADER + INIT_FLAGS) | add);
        io.putInt(out, (int) len);
        long iovAddr = io.getDirectBufferAddress(replyIov);
        io.putAddress(iovAddr, out);
        io.putLong(iovAddr + 8, len);
        int res = Native.fuse().fuse_chan_send(sessionChannel, iovAddr, 1);
        if (res == 0) {
            granted = add;
            if ((add & FUSE_MAX_PAGES) != 0) {
                grantedMaxPages = maxPages;
            }
        }
        return res;
    }
}
