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
    call.whenComplete(
        (v, e) -> {
          if (e == null) out.complete(v);
          else out.completeExceptionally(e);
        });
    poll(check, out, System.nanoTime() + answerWithin.toNanos(), answerWithin);
    return out;
  }

  private static void poll(
      SubmitCheck check, CompletableFuture<?> out, long deadline, java.time.Duration within) {
    if (out.isDone()) return;
    if (System.nanoTime() > deadline) {
      // a journal write that failed restarts its entity, and the command it was writing is never
      // answered: the
      // client hears "not taken" now rather than when its own timeout fires
      out.completeExceptionally(
          new StoreDown(
              "the journal did not take the submission within " + within.toSeconds() + " s"));
      return;
    }
    String why = check.refusal();
    if (why != null) {
      out.completeExceptionally(new StoreDown(why));
      return;
    }
    CompletableFuture.delayedExecutor(POLL_MS, TimeUnit.MILLISECONDS)
        .execute(() -> poll(check, out, deadline, within));
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
