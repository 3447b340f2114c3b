package dev.anchor.http;

import com.typesafe.config.Config;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.Route;

import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.completeWithFuture;

/**
 * Admission control for submits: beyond capacity a client gets an immediate 503 with {@code Retry-After} instead of a
 * request that waits in a queue nobody bounds (sharding buffers, the journal's write batches) until its connection or
 * the client gives up. Two bounds: tasks between the request and its 201 on this node ({@code max-in-flight}: what
 * waits for the journal), and tasks open in the cluster ({@code max-open-tasks}: each is an entity in a coordinator's
 * memory until it ends, so a backlog that only grows would grow the heap). GETs and /health are never gated.
 */
public final class Admission {
  /** @param maxOpenTasks 0 = no bound on the backlog */
  public record Limits(int maxInFlight, long maxOpenTasks, Duration retryAfter) {
    public Limits {
      if (maxInFlight < 1) throw new IllegalArgumentException("anchor.admission.max-in-flight must be at least 1");
      if (maxOpenTasks < 0) throw new IllegalArgumentException("anchor.admission.max-open-tasks must not be negative");
    }

    public static Limits fromConfig(Config root) {
      Config c = root.getConfig("anchor.admission");
      return new Limits(c.getInt("max-in-flight"), c.getLong("max-open-tasks"), c.getDuration("retry-after"));
    }
  }

  private final Limits limits;
  private final Semaphore inFlight;
  /** The open tasks as last read from the cluster's counters ({@link #openTasksAre}); -1 before the first reading. */
  private final AtomicLong open = new AtomicLong(-1);
  private final AtomicLong refused = new AtomicLong();

  public Admission(Limits limits) {
    this.limits = limits;
    this.inFlight = new Semaphore(limits.maxInFlight());
  }

  /** The latest count of open tasks in the cluster (polled: it may lag a little, the bound is not exact). */
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
   * Runs {@code submit} for {@code tasks} new tasks if the node has room, answering what it answers; otherwise 503
   * with Retry-After at once. A request for more tasks than the in-flight bound is admitted only when nothing else is
   * in flight, so a large bulk is slowed, never refused forever.
   */
  Route admit(int tasks, Supplier<CompletionStage<HttpResponse>> submit) {
    long openNow = open.get();
    if (limits.maxOpenTasks() > 0 && openNow >= limits.maxOpenTasks()) {
      return refuse("the cluster already holds " + openNow + " open tasks (anchor.admission.max-open-tasks = "
          + limits.maxOpenTasks() + "); try again later");
    }
    int permits = Math.min(Math.max(tasks, 1), limits.maxInFlight());
    if (!inFlight.tryAcquire(permits)) {
      return refuse("this node is taking as many submits as it can (" + limits.maxInFlight()
          + " tasks in flight); try again later");
    }
    CompletionStage<HttpResponse> answer;
    try {
      answer = submit.get();
    } catch (RuntimeException | Error e) {
      inFlight.release(permits);
      throw e;
    }
    return completeWithFuture(answer.whenComplete((r, e) -> inFlight.release(permits)));
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
    return new Admission(new Limits(Integer.MAX_VALUE, 0, Duration.ofSeconds(1)));
  }
}
