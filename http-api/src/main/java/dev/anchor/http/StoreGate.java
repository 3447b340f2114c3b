package dev.anchor.http;

import dev.anchor.AnchorNode;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.Route;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.apache.pekko.http.javadsl.server.Directives.complete;

/**
 * Refuses a submission at once with 503 and {@code Retry-After} while a store it must be written to is unreachable
 * (the node's cached store probes say so), instead of letting the client wait out the journal's or Redis' timeouts.
 * Nothing is acknowledged that was not journaled either way: a 201 is only sent after the journal write.
 */
final class StoreGate {
  /** Seconds a refused client is asked to wait: about how long the embedded Redis takes to restart and reload. */
  static final int RETRY_AFTER_S = 5;
  private static final long POLL_MS = 200;

  private StoreGate() {}

  static Route guard(AnchorNode node, Supplier<Route> inner) {
    String why = node.refusal();
    if (why == null) return inner.get();
    return complete(unavailable(why + "; try again shortly"));
  }

  /**
   * The submission, answered with a {@link StoreDown} failure (503) as soon as the probes find a store it needs
   * unreachable while it waits: a journal write to a store that just went away would otherwise hold the client for
   * the ask timeout. The submission may still be journaled later; it was not acknowledged, so a client that retries
   * may create a second task, never lose one.
   */
  static <T> CompletionStage<T> abandonIfStoreDown(AnchorNode node, CompletionStage<T> call) {
    CompletableFuture<T> out = new CompletableFuture<>();
    call.whenComplete((v, e) -> {
      if (e == null) out.complete(v);
      else out.completeExceptionally(e);
    });
    poll(node, out);
    return out;
  }

  private static void poll(AnchorNode node, CompletableFuture<?> out) {
    if (out.isDone()) return;
    String why = node.refusal();
    if (why != null) {
      out.completeExceptionally(new StoreDown(why));
      return;
    }
    CompletableFuture.delayedExecutor(POLL_MS, TimeUnit.MILLISECONDS).execute(() -> poll(node, out));
  }

  /** A store the request needed became unreachable while it waited. */
  static final class StoreDown extends RuntimeException {
    StoreDown(String why) {
      super(why + "; try again shortly", null, false, false);
    }
  }

  static HttpResponse unavailable(String message) {
    return Json.error(StatusCodes.SERVICE_UNAVAILABLE, message, null).addHeader(RetryAfter.create((long) RETRY_AFTER_S));
  }
}
