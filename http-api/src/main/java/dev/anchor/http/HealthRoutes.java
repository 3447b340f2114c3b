package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;

/** GET /health: 200 with the store and queue status once the node can take work, 503 otherwise. */
final class HealthRoutes {
  private final Supplier<CompletionStage<Health>> health;

  HealthRoutes(Supplier<CompletionStage<Health>> health) {
    this.health = health;
  }

  Route route() {
    return path(
        "health",
        () ->
            get(
                () ->
                    completeWithFuture(
                        health
                            .get()
                            .thenApply(
                                h ->
                                    Json.response(
                                        h.healthy()
                                            ? StatusCodes.OK
                                            : StatusCodes.SERVICE_UNAVAILABLE,
                                        h)))));
  }
}
