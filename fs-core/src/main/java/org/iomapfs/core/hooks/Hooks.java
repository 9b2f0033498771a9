package org.iomapfs.core.hooks;

import org.iomapfs.core.sched.Sched;
import org.iomapfs.core.inode.Inode;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Listeners at {@link HookPoint}s. With none registered a point costs one map lookup. Tests use latches in
 * hooks to force an interleaving; fault injection uses them for delays.
 */
public final class Hooks {
    @FunctionalInterface
    public interface Hook {
        void at(HookPoint point, Inode inode, long pos);
    }

    /** Decides how many of {@code len} bytes a buffered copy-in at {@code pos} manages before "faulting". */
    @FunctionalInterface
    public interface CopyInFault {
        int allowed(Inode inode, long pos, int len);
    }

    /** Decides whether a writeback I/O fails, at submission (->map_blocks) or at completion. */
    @FunctionalInterface
    public interface IoFault {
        boolean fails(Inode inode, long pos);
    }

    private volatile IoFault wbSubmitFault = (inode, pos) -> false;
    private volatile IoFault wbCompleteFault = (inode, pos) -> false;
    private final Map<HookPoint, List<Hook>> hooks = new EnumMap<>(HookPoint.class);
    private volatile CopyInFault copyIn = (inode, pos, len) -> len;

    public Hooks() {
        for (HookPoint p : HookPoint.values()) {
            hooks.put(p, new CopyOnWriteArrayList<>());
        }
    }

    public void fire(HookPoint point, Inode inode, long pos) {
        if (Sched.ON) {
            Sched.point(point, pos, inode == null ? 4096 : inode.blockSize);
        }
        List<Hook> list = hooks.get(point);
        if (!list.isEmpty()) {
            for (Hook h : list) {
                h.at(point, inode, pos);
            }
        }
    }

    /** Whether {@link #fire} at {@code point} does anything: a hook is added there or the scheduler runs. */
    public boolean active(HookPoint point) {
        return Sched.ON || !hooks.get(point).isEmpty();
    }

    public Hook add(HookPoint point, Hook hook) {
        hooks.get(point).add(hook);
        return hook;
    }

    public void remove(HookPoint point, Hook hook) {
        hooks.get(point).remove(hook);
    }

    public void setWbSubmitFault(IoFault f) { wbSubmitFault = f; }

    public void setWbCompleteFault(IoFault f) { wbCompleteFault = f; }

    public boolean wbSubmitFails(Inode inode, long pos) { return wbSubmitFault.fails(inode, pos); }

    public boolean wbCompleteFails(Inode inode, long pos) { return wbCompleteFault.fails(inode, pos); }

    public void setCopyInFault(CopyInFault f) { copyIn = f; }

    public int copyInAllowed(Inode inode, long pos, int len) { return copyIn.allowed(inode, pos, len); }
}
