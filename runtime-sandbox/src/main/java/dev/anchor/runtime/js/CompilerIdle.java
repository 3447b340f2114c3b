package dev.anchor.runtime.js;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;

/**
 * Waits until Truffle's background compiler threads stop using CPU, i.e. its compilation queue is
 * drained. Truffle has no public queue-length API; compiler thread CPU time is an honest proxy.
 * Used at the end of warm-up so that a child does not take tasks while still compiling warm-up code
 * (which would delay the first task's compilations).
 */
final class CompilerIdle {
  private static final long QUIET_MS = 250;

  private CompilerIdle() {}

  static void await(long maxMs) {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    if (!threads.isThreadCpuTimeSupported()) return;
    long end = System.nanoTime() + maxMs * 1_000_000;
    long last = compilerCpuNanos(threads);
    long quietSince = System.nanoTime();
    while (System.nanoTime() < end) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      long now = compilerCpuNanos(threads);
      if (now - last > 5_000_000) {
        quietSince = System.nanoTime();
      } else if ((System.nanoTime() - quietSince) / 1_000_000 >= QUIET_MS) {
        return;
      }
      last = now;
    }
  }

  private static long compilerCpuNanos(ThreadMXBean threads) {
    long total = 0;
    for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
      if (info != null && info.getThreadName().contains("Compiler")) {
        long t = threads.getThreadCpuTime(info.getThreadId());
        if (t > 0) total += t;
      }
    }
    return total;
  }
}
