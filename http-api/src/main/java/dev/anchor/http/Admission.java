package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.completeWithFuture;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Admission control for submits: beyond capacity a client gets an immediate 503 with {@code
 * Retry-After} instead of a request that waits in a queue nobody bounds (sharding buffers, the
 * journal's write batches) until its connection or the client gives up. Two bounds: tasks between
 * the request and its 201 on this node ({@code max-in-flight}: what waits for the journal), and
 * tasks open in the cluster ({@code max-open-tasks}: each is an entity in a coordinator's memory
 * until it ends, so a backlog that only grows would grow the heap), and a wait: while the oldest
 * submit in flight has waited longer than {@code max-wait}, the journal is not keeping up and new
 * submits are refused (as CoDel drops when a queue's delay, not its length, grows), so answers stay
 * fast whatever rate the node manages. GETs and /health are never gated.
 */
public final class Admission {
  /**
   * @param maxOpenTasks 0 = no bound on the backlog
   * @param maxWait while the oldest submit in flight has waited longer than this, new ones are
   *     refused: the bound that keeps answers fast whatever rate the journal manages (zero = none)
   */
  public record Limits(int maxInFlight, long maxOpenTasks, Duration maxWait, Duration retryAfter) {
    public Limits {
      if (maxInFlight < 1)
        throw new IllegalArgumentException("anchor.admission.max-in-flight must be at least 1");
      if (maxOpenTasks < 0)
        throw new IllegalArgumentException("anchor.admission.max-open-tasks must not be negative");
      if (maxWait.isNegative())
        throw new IllegalArgumentException("anchor.admission.max-wait must not be negative");
    }

    public static Limits fromConfig(Config root) {
      Config c = root.getConfig("anchor.admission");
      return new Limits(
          c.getInt("max-in-flight"),
          c.getLong("max-open-tasks"),
          c.getDuration("max-wait"),
          c.getDuration("retry-after"));
    }
  }

  private final Limits limits;
  private final Semaphore inFlight;

  /**
   * The open tasks as last read from the cluster's counters ({@link #openTasksAre}); -1 before the
   * first reading.
   */
  private final AtomicLong open = new AtomicLong(-1);

  private final AtomicLong refused = new AtomicLong();

  /**
   * When each submit in flight was admitted (nanoTime, then a sequence number to keep equal times
   * apart).
   */
  private final java.util.concurrent.ConcurrentSkipListSet<long[]> started =
      new java.util.concurrent.ConcurrentSkipListSet<>(
          (a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));

  private final AtomicLong sequence = new AtomicLong();
  private final java.util.function.LongSupplier nanoTime;

  public Admission(Limits limits) {
    this(limits, System::nanoTime);
  }

  Admission(Limits limits, java.util.function.LongSupplier nanoTime) {
    this.limits = limits;
    this.inFlight = new Semaphore(limits.maxInFlight());
    this.nanoTime = nanoTime;
  }

  /**
   * The latest count of open tasks in the cluster (polled: it may lag a little, the bound is not
   * exact).
   */
  public void openTasksAre(long n) {
    open.set(n);
  }

  /** Submits refused since start. */
  public long refused() {
    return refused.get();
  }

  /** Tasks admitted and not answered yet. */
  public int inFlight() {
    return limits.maxInFlight() - inFlight.availablePermits();
  }

  /**
   * Runs {@code submit} for {@code tasks} new tasks if the node has room, answering what it
   * answers; otherwise 503 with Retry-After at once. A request for more tasks than the in-flight
   * bound is admitted only when nothing else is in flight, so a large bulk is slowed, never refused
   * forever.
   */
  Route admit(int tasks, Supplier<CompletionStage<HttpResponse>> submit) {
    long openNow = open.get();
    if (limits.maxOpenTasks() > 0 && openNow >= limits.maxOpenTasks()) {
      return refuse(
          "the cluster already holds "
              + openNow
              + " open tasks (anchor.admission.max-open-tasks = "
              + limits.maxOpenTasks()
              + "); try again later");
    }
    long now = nanoTime.getAsLong();
    if (!limits.maxWait().isZero() && !started.isEmpty()) {
      long[] oldest = started.first();
      if (now - oldest[0] > limits.maxWait().toNanos()) {
        return refuse(
            "submits are waiting longer than "
                + limits.maxWait().toMillis()
                + " ms for the journal (anchor.admission.max-wait); try again later");
      }
    }
    int permits = Math.min(Math.max(tasks, 1), limits.maxInFlight());
    if (!inFlight.tryAcquire(permits)) {
      return refuse(
          "this node is taking as many submits as it can ("
              + limits.maxInFlight()
              + " tasks in flight); try again later");
    }
    long[] mark = {now, sequence.incrementAndGet()};
    started.add(mark);
    Runnable done =
        () -> {
          started.remove(mark);
          inFlight.release(permits);
        };
    CompletionStage<HttpResponse> answer;
    try {
      answer = submit.get();
    } catch (RuntimeException | Error e) {
      done.run();
      throw e;
    }
    return completeWithFuture(answer.whenComplete((r, e) -> done.run()));
  }

  private Route refuse(String why) {
    refused.incrementAndGet();
    return complete(refusal(why, limits.retryAfter()));
  }

  static HttpResponse refusal(String why, Duration retryAfter) {
    return Json.error(StatusCodes.SERVICE_UNAVAILABLE, why, null)
        .addHeader(RetryAfter.create(Math.max(1, (retryAfter.toMillis() + 999) / 1000)));
  }

  /** An admission that never refuses (tests of routes that are not about load). */
  static Admission unbounded() {
    return new Admission(new Limits(Integer.MAX_VALUE, 0, Duration.ZERO, Duration.ofSeconds(1)));
  }
}
