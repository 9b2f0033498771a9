package org.iomapfs.core.lockdep;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The validator on a graph of its own (the engine's is global and must stay free of reports). */
class LockGraphTest {
    private final LockGraph graph = new LockGraph(true);

    /** Runs {@code body} on another thread and waits for it: the two threads never overlap, so nothing blocks. */
    private static void onOtherThread(String name, Runnable body) throws Exception {
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> new Thread(r, name));
        try {
            ex.submit(body).get(10, TimeUnit.SECONDS);
        } finally {
            ex.shutdownNow();
        }
    }

    /** Takes {@code outer} then {@code inner}, both exclusive, and lets them go. */
    private static void nested(TrackedRwLock outer, TrackedRwLock inner) {
        outer.writeLock().lock();
        inner.writeLock().lock();
        inner.writeLock().unlock();
        outer.writeLock().unlock();
    }

    @Test
    void abbaAcrossTwoThreadsIsReportedThoughTheyNeverDeadlocked() throws Exception {
        TrackedRwLock a = new TrackedRwLock(graph.newClass("A"));
        TrackedRwLock b = new TrackedRwLock(graph.newClass("B"));
        onOtherThread("first", () -> {
            a.writeLock().lock();
            b.readLock().lock();
            b.readLock().unlock();
            a.writeLock().unlock();
        });
        assertEquals(0, graph.reports().size());
        onOtherThread("second", () -> {
            b.writeLock().lock();
            a.readLock().lock();
            a.readLock().unlock();
            b.writeLock().unlock();
        });
        assertEquals(1, graph.reports().size(), graph.reports().toString());
        String r = graph.reports().get(0);
        assertTrue(r.contains("possible circular locking dependency"), r);
        assertTrue(r.contains("thread \"second\" is trying to acquire (or wait for) A"), r);
        assertTrue(r.contains("first in thread \"first\" holding A"), r);
        assertTrue(r.contains("abbaAcrossTwoThreadsIsReportedThoughTheyNeverDeadlocked"), "acquisition site: " + r);
    }

    @Test
    void waitingForWritebackUnderALockThatCompletionTakesIsReported() throws Exception {
        LockClass txn = graph.newClass("metadata transaction");
        LockClass writeback = graph.newClass("folio writeback");
        TrackedRwLock store = new TrackedRwLock(txn);
        // the completion worker ends writeback after committing, that is, inside the writeback context
        onOtherThread("iomapfs-ioend", () -> {
            writeback.acquire();
            store.writeLock().lock();
            store.writeLock().unlock();
            writeback.release();
        });
        // an eviction inside a metadata update waits for writeback
        onOtherThread("fuse-worker", () -> {
            store.readLock().lock();
            writeback.waitFor();
            store.readLock().unlock();
        });
        assertEquals(1, graph.reports().size(), graph.reports().toString());
        String r = graph.reports().get(0);
        assertTrue(r.contains("is trying to acquire (or wait for) folio writeback\nwhile holding metadata transaction"), r);
        assertTrue(r.contains("folio writeback -> metadata transaction -> folio writeback"), r);
    }

    @Test
    void oneOrderFollowedEverywhereIsNotReported() throws Exception {
        LockClass ns = graph.newClass("namespace");
        LockClass folio = graph.newClass("folio lock");
        LockClass writeback = graph.newClass("folio writeback");
        TrackedRwLock namespace = new TrackedRwLock(ns);
        TrackedRwLock txn = new TrackedRwLock(graph.newClass("metadata transaction"));
        for (String t : new String[] {"one", "two"}) {
            onOtherThread(t, () -> {
                namespace.writeLock().lock();
                namespace.readLock().lock(); // reentrant: same class, no edge
                txn.readLock().lock();
                txn.readLock().unlock();
                namespace.readLock().unlock();
                namespace.writeLock().unlock();
                writeback.waitFor();
                writeback.acquire();
                folio.acquire();
                folio.acquire(); // folios in index order
                txn.writeLock().lock();
                txn.writeLock().unlock();
                folio.release();
                folio.release();
                writeback.release();
                folio.acquire();
                writeback.waitForExcept(folio); // its own folio's writeback, under its lock
                folio.release();
            });
        }
        assertEquals(0, graph.reports().size(), graph.reports().toString());
    }

    @Test
    void trylocksAddNoDependency() throws Exception {
        TrackedRwLock a = new TrackedRwLock(graph.newClass("A"));
        TrackedRwLock b = new TrackedRwLock(graph.newClass("B"));
        onOtherThread("one", () -> nested(a, b));
        onOtherThread("two", () -> {
            b.writeLock().lock();
            assertTrue(a.writeLock().tryLock());
            a.writeLock().unlock();
            b.writeLock().unlock();
        });
        assertEquals(0, graph.reports().size(), graph.reports().toString());
    }

    @Test
    void releasingWhatTheThreadDoesNotHoldIsReported() throws Exception {
        LockClass c = graph.newClass("folio lock");
        onOtherThread("locker", c::acquire);
        onOtherThread("other", c::release);
        assertEquals(1, graph.reports().size());
        assertTrue(graph.reports().get(0).contains("bad unlock balance"), graph.reports().get(0));
    }

    @Test
    void heldByNamesWhatAnotherThreadHoldsNow() throws Exception {
        LockClass ns = graph.newClass("namespace");
        LockClass folio = graph.newClass("folio lock");
        java.util.concurrent.CountDownLatch holding = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        Thread t = new Thread(() -> {
            ns.acquire();
            folio.acquire();
            holding.countDown();
            try {
                done.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            folio.release();
            ns.release();
        }, "holder");
        t.start();
        assertTrue(holding.await(10, TimeUnit.SECONDS));
        assertEquals("namespace, folio lock", graph.heldBy(t));
        done.countDown();
        t.join(10_000);
        assertEquals("nothing", graph.heldBy(t));
        assertEquals("nothing", graph.heldBy(Thread.currentThread()));
    }

    @Test
    void offRecordsNothing() throws Exception {
        LockGraph off = new LockGraph(false);
        TrackedRwLock a = new TrackedRwLock(off.newClass("A"));
        TrackedRwLock b = new TrackedRwLock(off.newClass("B"));
        onOtherThread("one", () -> nested(a, b));
        onOtherThread("two", () -> nested(b, a));
        assertEquals(0, off.reports().size());
    }
}
