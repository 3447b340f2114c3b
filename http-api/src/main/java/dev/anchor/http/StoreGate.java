package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Refuses a submission at once with 503 and {@code Retry-After} while a store it must be written to
 * is unreachable (the node's cached store probes say so), instead of letting the client wait out
 * the journal's or Redis' timeouts. Nothing is acknowledged that was not journaled either way: a
 * 201 is only sent after the journal write.
 */
final class StoreGate {
  /**
   * Seconds a refused client is asked to wait: about how long the embedded Redis takes to restart
   * and reload.
   */
  static final int RETRY_AFTER_S = 5;

  private static final long POLL_MS = 200;

  /**
   * A submission not journaled by then is answered 503 (not acknowledged; it may still be written).
   */
  static final java.time.Duration ANSWER_WITHIN = java.time.Duration.ofSeconds(4);

  /** The same for a bulk submission (up to 1,000 journal writes). */
  static final java.time.Duration BULK_ANSWER_WITHIN = java.time.Duration.ofSeconds(12);

  private StoreGate() {}

  static Route guard(SubmitCheck check, Supplier<Route> inner) {
    String why = check.refusal();
    if (why == null) return inner.get();
    return complete(unavailable(why + "; try again shortly"));
  }

  /**
   * The submission, answered with a {@link StoreDown} failure (503) as soon as the probes find a
   * store it needs unreachable while it waits, or when it is not journaled within {@code
   * answerWithin}: a journal write to a store that just went away (or that failed and restarted its
   * entity) would otherwise hold the client for the ask timeout. The submission may still be
   * journaled later; it was not acknowledged, so a client that retries may create a second task,
   * never lose one.
   */
  static <T> CompletionStage<T> abandonIfStoreDown(
      SubmitCheck check, CompletionStage<T> call, java.time.Duration answerWithin) {
    CompletableFuture<T> out = new CompletableFuture<>();
    Waiting w = new Waiting(check, out, System.nanoTime() + answerWithin.toNanos(), answerWithin);
    WAITING.add(w);
    call.whenComplete(
        (v, e) -> {
          WAITING.remove(w);
          if (e == null) out.complete(v);
          else out.completeExceptionally(e);
        });
    Sweeper.start();
    return out;
  }

  /** A submission waiting for its journal write, looked at by the sweeper until it is answered. */
  private record Waiting(
      SubmitCheck check, CompletableFuture<?> out, long deadline, java.time.Duration within) {}

  private static final java.util.Set<Waiting> WAITING =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * One thread looks at every waiting submission each {@link #POLL_MS}: a delayed task per
   * submission cost a scheduler insert and a pool hand-off each (about 3% of a single submit's
   * CPU), though nearly every one is answered long before its first look.
   */
  private static final class Sweeper {
    static {
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "anchor-store-gate");
                t.setDaemon(true);
                return t;
              })
          .scheduleWithFixedDelay(Sweeper::sweep, POLL_MS, POLL_MS, TimeUnit.MILLISECONDS);
    }

    /** Loads the class, which starts the thread once. */
    static void start() {}

    private static void sweep() {
      long now = System.nanoTime();
      for (Waiting w : WAITING) {
        try {
          if (w.out().isDone()) {
            WAITING.remove(w);
          } else if (now > w.deadline()) {
            // a journal write that failed restarts its entity, and the command it was writing is
            // never answered: the client hears "not taken" now rather than when its own timeout
            // fires
            WAITING.remove(w);
            w.out()
                .completeExceptionally(
                    new StoreDown(
                        "the journal did not take the submission within "
                            + w.within().toSeconds()
                            + " s"));
          } else {
            String why = w.check().refusal();
            if (why != null) {
              WAITING.remove(w);
              w.out().completeExceptionally(new StoreDown(why));
            }
          }
        } catch (RuntimeException e) {
          // one check failing must not stop the sweeper for every other submission
          WAITING.remove(w);
          w.out().completeExceptionally(e);
        }
      }
    }
  }

  /** A store the request needed became unreachable while it waited. */
  static final class StoreDown extends RuntimeException {
    StoreDown(String why) {
      super(why + "; try again shortly", null, false, false);
    }
  }

  static HttpResponse unavailable(String message) {
    return Json.error(StatusCodes.SERVICE_UNAVAILABLE, message, null)
        .addHeader(RetryAfter.create((long) RETRY_AFTER_S));
  }
}
