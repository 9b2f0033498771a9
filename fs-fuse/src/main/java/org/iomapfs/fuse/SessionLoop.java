package org.iomapfs.fuse;

import com.kenai.jffi.MemoryIO;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;

/**
 * A fixed pool of long-lived Java threads that drive libfuse 2.9's own session: each thread loops on
 * {@code fuse_session_receive_buf} / {@code fuse_session_process_buf} exactly as {@code fuse_do_work} in
 * libfuse's fuse_loop_mt.c does, but never exits while the mount lives. libfuse's loop starts a new pthread
 * whenever no worker is idle and ends workers once more than 10 are idle, and every new pthread that calls
 * into Java must attach to and detach from the JVM; these threads are Java threads, so they never do.
 *
 * <p>The INIT request is processed with {@link InitReply}'s channel, which adds FUSE_HANDLE_KILLPRIV_V2 and
 * FUSE_MAX_PAGES to libfuse's reply; every other request with the channel it was received on. The receive buffers
 * hold a whole WRITE of {@code max_write} bytes (the kernel refuses a read of /dev/fuse into less).
 *
 * <p>Shutdown follows libfuse too: an unmount makes every blocked read of /dev/fuse fail with ENODEV, which
 * fuse_kern_chan.c turns into {@code fuse_session_exit} plus a return of 0, so every worker leaves its loop.
 */
final class SessionLoop {
    private static final int EINTR = 4;
    // struct fuse_buf (fuse_common.h, LP64): size_t size @0, enum flags @8, void *mem @16, int fd @24, off_t pos @32
    private static final int BUF_SIZE = 0, BUF_FLAGS = 8, BUF_MEM = 16, BUF_FD = 24, BUF_POS = 32;
    private static final int FUSE_BUF_LEN = 40;
    private static final int CHP = 48; // struct fuse_chan * written back by fuse_session_receive_buf
    // struct fuse_in_header (linux/fuse.h): u32 len @0, u32 opcode @4, u64 unique @8, u64 nodeid @16; 40 bytes
    private static final int IN_OPCODE = 4, IN_NODEID = 16, IN_HEADER_LEN = 40;
    private static final int FUSE_FORGET = 2, FUSE_INIT = 26, FUSE_BATCH_FORGET = 42;
    /** libfuse's fuse_chan_new margin: do_init takes max_write = bufsize - 4096. */
    private static final int HEADER_ROOM = 4096;

    /** A loop thread; it owns the receive buffer, so WRITE payloads can be viewed without allocation. */
    static final class Worker extends Thread {
        private final SessionLoop loop;
        final ByteBuffer recv;
        final long recvAddr;
        private final ByteBuffer view;
        private final ByteBuffer ctl;
        private final long ctlAddr;
        /** fuse_in_header.nodeid of the request this thread is processing. */
        long nodeid;
        /** Whether that request asks the server to clear setuid/setgid ({@link KillPrivV2}). */
        boolean killAsked;

        Worker(SessionLoop loop, int index) {
            super("fuse-worker-" + index);
            setDaemon(true);
            this.loop = loop;
            this.recv = ByteBuffer.allocateDirect((int) loop.bufsize);
            this.recvAddr = MemoryIO.getInstance().getDirectBufferAddress(recv);
            this.view = recv.duplicate();
            this.ctl = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder());
            this.ctlAddr = MemoryIO.getInstance().getDirectBufferAddress(ctl);
        }

        /** A view of [addr, addr+len) if it lies in this thread's receive buffer, else null. Reused per call. */
        ByteBuffer view(long addr, int len) {
            long off = addr - recvAddr;
            if (off < 0 || off + len > recv.capacity()) {
                return null;
            }
            view.clear();
            view.position((int) off);
            view.limit((int) off + len);
            return view;
        }

        /** FORGET and BATCH_FORGET: the kernel evicted these inodes (fuse_evict_inode sends its whole nlookup). */
        private void forgets(KernelInvalidator inval, int opcode) {
            if (opcode == FUSE_FORGET) {
                inval.forget(nodeid);
            } else if (opcode == FUSE_BATCH_FORGET) {
                // struct fuse_batch_forget_in { u32 count; u32 dummy; } then struct fuse_forget_one { u64 nodeid; u64 nlookup; }
                MemoryIO io = MemoryIO.getInstance();
                int count = io.getInt(recvAddr + IN_HEADER_LEN);
                for (int i = 0; i < count && IN_HEADER_LEN + 8 + 16L * (i + 1) <= recv.capacity(); i++) {
                    inval.forget(io.getLong(recvAddr + IN_HEADER_LEN + 8 + 16L * i));
                }
            }
        }

        @Override
        public void run() {
            Native.LibFuse2 f = Native.fuse();
            long se = loop.session;
            while (f.fuse_session_exited(se) == 0) {
                // receive_buf overwrites size with the request length, so reset the whole fuse_buf every time
                ctl.putLong(BUF_SIZE, loop.bufsize);
                ctl.putInt(BUF_FLAGS, 0);
                ctl.putLong(BUF_MEM, recvAddr);
                ctl.putInt(BUF_FD, -1);
                ctl.putLong(BUF_POS, 0);
                ctl.putLong(CHP, loop.channel);
                int res = f.fuse_session_receive_buf(se, ctlAddr, ctlAddr + CHP);
                if (res == -EINTR) {
                    continue;
                }
                if (res <= 0) {
                    if (res < 0) {
                        loop.error = -res;
                        f.fuse_session_exit(se);
                    }
                    break;
                }
                // libfuse 2.9 reads into buf.mem unless splice_read was asked for (fuse_ll_receive_buf), so the
                // request starts with its fuse_in_header
                nodeid = MemoryIO.getInstance().getLong(recvAddr + IN_NODEID);
                int opcode = MemoryIO.getInstance().getInt(recvAddr + IN_OPCODE);
                KernelInvalidator inval = loop.invalidator;
                if (inval != null) {
                    forgets(inval, opcode);
                }
                killAsked = loop.killPriv.requested(recvAddr);
                long ch = opcode == FUSE_INIT ? loop.init.channel(recvAddr) : ctl.getLong(CHP);
                f.fuse_session_process_buf(se, ctlAddr, ch);
            }
        }
    }

    final long session;
    final long channel;
    final long bufsize;
    final InitReply init;
    final KillPrivV2 killPriv;
    private final List<Worker> workers = new ArrayList<>();
    volatile int error;
    /** Set before {@link #start}: told of FORGETs, so that it stops notifying node ids the kernel dropped. */
    volatile KernelInvalidator invalidator;

    /** {@code maxWrite}: the mount's max_write, asked of the kernel with FUSE_MAX_PAGES above 128 KiB. */
    SessionLoop(long session, int threads, int maxWrite) {
        Native.LibFuse2 f = Native.fuse();
        this.session = session;
        this.channel = f.fuse_session_next_chan(session, 0);
        this.bufsize = Math.max(f.fuse_chan_bufsize(channel), (long) maxWrite + HEADER_ROOM);
        int maxPages = (int) ((maxWrite + InitReply.PAGE_SIZE - 1L) / InitReply.PAGE_SIZE);
        this.init = new InitReply(channel, bufsize, KillPrivV2.FUSE_HANDLE_KILLPRIV_V2, maxPages);
        this.killPriv = new KillPrivV2(channel, init);
        for (int i = 0; i < threads; i++) {
            workers.add(new Worker(this, i));
        }
    }

    void start() {
        workers.forEach(Thread::start);
    }

    /** Waits for every worker to leave its loop; false on timeout. */
    boolean join(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        for (Worker w : workers) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedJoin(w, left);
            if (w.isAlive()) {
                return false;
            }
        }
        Native.fuse().fuse_session_reset(session);
        return true;
    }

    /** The node id of the request the calling pool thread is processing, or 0 on any other thread. */
    static long currentNodeId() {
        return Thread.currentThread() instanceof Worker w ? w.nodeid : 0;
    }

    /**
     * The address of the request the calling pool thread is processing (its fuse_in_header, then the
     * opcode's arguments: libfuse 2.9 receives into buf.mem without splice), or 0 on any other thread.
     */
    static long currentRequest() {
        return Thread.currentThread() instanceof Worker w ? w.recvAddr : 0;
    }

    /**
     * Whether the request the calling pool thread serves asks the server to clear setuid/setgid (see
     * {@link KillPrivV2}); false on any other thread.
     */
    static boolean killSuidSgidRequested() {
        return Thread.currentThread() instanceof Worker w && w.killAsked;
    }

    /** The calling pool thread's caller: in_group_or_capable for a file's group ({@link KillPrivV2#inGroupOrCapable}). */
    static IntPredicate callerInGroupOrCapable() {
        return Thread.currentThread() instanceof Worker w ? gid -> w.loop.killPriv.inGroupOrCapable(w.recvAddr, gid)
            : gid -> true;
    }

    /** Whether the FALLOCATE the calling pool thread serves clears setuid/setgid ({@link KillPrivV2#fallocateKills}). */
    static boolean fallocateKillsSuidSgid() {
        return Thread.currentThread() instanceof Worker w && w.loop.killPriv.fallocateKills(w.recvAddr);
    }

    /** The calling pool thread's request cleared setuid/setgid: tells the kernel where it must ({@link KillPrivV2#killed}). */
    static void suidSgidKilled() {
        if (Thread.currentThread() instanceof Worker w) {
            w.loop.killPriv.killed(w.recvAddr);
        }
    }

    static ByteBuffer viewIfWorker(long addr, int len) {
        return Thread.currentThread() instanceof Worker w ? w.view(addr, len) : null;
    }
}
