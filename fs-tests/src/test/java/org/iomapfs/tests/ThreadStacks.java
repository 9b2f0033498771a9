package org.iomapfs.tests;

/** Thread stacks for a failure message: what each thread waits for, down to the test's own frames. */
final class ThreadStacks {
    private ThreadStacks() { }

    static void append(StringBuilder sb, Thread th, StackTraceElement[] stack) {
        sb.append('"').append(th.getName()).append("\" ").append(th.getState()).append('\n');
        for (StackTraceElement f : stack) {
            sb.append("    at ").append(f).append('\n');
            if (f.getClassName().startsWith("org.iomapfs.tests")) {
                break;
            }
        }
    }
}
