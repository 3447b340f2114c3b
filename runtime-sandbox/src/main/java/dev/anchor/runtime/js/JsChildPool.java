package dev.anchor.runtime.js;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Outcome;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JS tasks in a pool of child JVMs, one task at a time per child. A child's -Xmx bounds what a task
 * can allocate; a child that breaches its heap, misses its deadline or crashes is killed and
 * replaced, and the worker JVM is never affected. Children are started (and warmed) ahead of
 * demand.
 */
public final class JsChildPool implements JsRunner {
  private static final Logger log = LoggerFactory.getLogger(JsChildPool.class);

  /**
   * How long the worker waits past a task's deadline for the child's own watchdog before killing
   * the child.
   */
  private static final long BACKSTOP_GRACE_MS = 2_000;

  private static final long CHILD_START_TIMEOUT_MS = 120_000;
  private static final int EXIT_OUT_OF_MEMORY = 3;

  private final List<String> command;
  private final int size;

  /**
   * Idle children, most recently used first: sequential tasks keep going to the same child, whose
   * JIT has compiled the most (and its profile stays monomorphic); the others stay warm for
   * concurrent tasks.
   */
  private final LinkedBlockingDeque<JsChildProcess> idle = new LinkedBlockingDeque<>();

  private final Map<String, JsChildProcess> busy = new ConcurrentHashMap<>();
  private final Set<String> cancelled = ConcurrentHashMap.newKeySet();
  private final AtomicInteger starting = new AtomicInteger();
  private final ExecutorService starter;
  private volatile String lastStartFailure;
  private volatile boolean closed;
  private volatile boolean compilationEnabled;

  public JsChildPool(ChildJvmCommand command, int size, long heapMb, int logCap, boolean warmup) {
    this.command = command.command(heapMb, logCap, warmup);
    this.size = size;
    // One child starts (and warms, which is CPU-heavy) at a time: the first is ready sooner and the
    // worker keeps a core.
    this.starter =
        Executors.newFixedThreadPool(
            1,
            r -> {
              Thread t = new Thread(r, "js-child-starter");
              t.setDaemon(true);
              return t;
            });
    log.info("JS child pool: {} children, -Xmx{}m, {}", size, heapMb, command);
    for (int i = 0; i < size; i++) replenish();
  }

  /**
   * Blocks until at least {@code n} children are ready (or the timeout passes); false on timeout.
   */
  public boolean awaitReady(int n, long timeoutMs) throws InterruptedException {
    long end = System.nanoTime() + timeoutMs * 1_000_000;
    while (idle.size() < n) {
      if (System.nanoTime() > end || lastStartFailure != null && idle.isEmpty()) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  public boolean compilationEnabled() {
    return compilationEnabled;
  }

  private void replenish() {
    if (closed) return;
    starting.incrementAndGet();
    starter.execute(
        () -> {
          try {
            JsChildProcess child = JsChildProcess.start(command);
            try {
              JsWire.Ready r = child.awaitReady(CHILD_START_TIMEOUT_MS);
              compilationEnabled = r.compilationEnabled();
              log.debug(
                  "JS child {} ready (warm-up {} ms, compiled={})",
                  child.pid(),
                  r.warmupMs(),
                  r.compilationEnabled());
            } catch (Exception e) {
              child.kill();
              throw e;
            }
            lastStartFailure = null;
            if (closed) child.closeGracefully();
            else idle.add(child);
          } catch (Exception e) {
            lastStartFailure = e.toString();
            log.warn("could not start a JS child JVM: {}", e.toString());
            if (!closed) {
              sleepQuietly(1_000);
              replenish();
            }
          } finally {
            starting.decrementAndGet();
          }
        });
  }

  @Override
  public Outcome run(JsRequest req) {
    JsChildProcess child;
    try {
      child = acquire(req.jobId());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome.Failure(
          FailureKind.CANCELLED, "interrupted while waiting for a JS worker", null, "", 0);
    }
    if (child == null) {
      if (cancelled.remove(req.jobId())) {
        return new Outcome.Failure(FailureKind.CANCELLED, "task was cancelled", null, "", 0);
      }
      return new Outcome.Failure(
          FailureKind.INTERNAL,
          "no JS child JVM available" + (lastStartFailure == null ? "" : ": " + lastStartFailure),
          null,
          "",
          0);
    }
    long start = System.nanoTime();
    busy.put(req.jobId(), child);
    boolean keep = false;
    try {
      if (cancelled.contains(req.jobId())) child.cancel(req.jobId());
      JsReply reply = child.run(req, req.timeoutMs() + BACKSTOP_GRACE_MS);
      // A child whose task hit the memory cap is replaced, not reused: after the task is stopped,
      // the heap it
      // filled was observed to stay reachable for a while (the next task in that child was then
      // stopped too),
      // and a new process is the only certain way to get it back.
      keep = reply.failure() != FailureKind.INTERNAL && reply.failure() != FailureKind.MEMORY_LIMIT;
      return reply.toOutcome();
    } catch (TimeoutException e) {
      FailureKind kind =
          cancelled.contains(req.jobId()) ? FailureKind.CANCELLED : FailureKind.TIMEOUT;
      return new Outcome.Failure(
          kind,
          kind == FailureKind.TIMEOUT
              ? "task exceeded its deadline of " + req.timeoutMs() + " ms (JS child killed)"
              : "task was cancelled (JS child killed)",
          null,
          "",
          ms(start));
    } catch (JsChildProcess.ChildDiedException e) {
      if (e.exitCode == EXIT_OUT_OF_MEMORY) {
        return new Outcome.Failure(
            FailureKind.MEMORY_LIMIT,
            "task exceeded its memory cap of " + req.memoryMb() + " MB (JS child heap exhausted)",
            null,
            "",
            ms(start));
      }
      if (cancelled.contains(req.jobId())) {
        return new Outcome.Failure(
            FailureKind.CANCELLED, "task was cancelled", null, "", ms(start));
      }
      return new Outcome.Failure(FailureKind.INTERNAL, e.getMessage(), null, "", ms(start));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome.Failure(FailureKind.CANCELLED, "interrupted", null, "", ms(start));
    } finally {
      busy.remove(req.jobId());
      cancelled.remove(req.jobId());
      if (keep && child.alive() && !closed) {
        idle.addFirst(child);
      } else {
        child.kill();
        replenish();
      }
    }
  }

  private JsChildProcess acquire(String jobId) throws InterruptedException {
    long end = System.nanoTime() + CHILD_START_TIMEOUT_MS * 1_000_000;
    while (!closed && System.nanoTime() < end) {
      if (cancelled.contains(jobId)) return null;
      JsChildProcess c = idle.pollFirst(50, TimeUnit.MILLISECONDS);
      if (c != null) {
        if (c.alive()) return c;
        c.kill();
        replenish();
        continue;
      }
      // Children are failing to start right now: answer at once (INTERNAL, retryable) rather than
      // hang.
      if (lastStartFailure != null && idle.isEmpty()) return null;
    }
    return null;
  }

  @Override
  public void cancel(String jobId) {
    cancelled.add(jobId);
    JsChildProcess c = busy.get(jobId);
    if (c != null) c.cancel(jobId);
  }

  @Override
  public void close() {
    closed = true;
    starter.shutdownNow();
    JsChildProcess c;
    while ((c = idle.poll()) != null) c.closeGracefully();
    busy.values().forEach(JsChildProcess::kill);
  }

  private static long ms(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
