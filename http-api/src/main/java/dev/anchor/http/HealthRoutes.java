package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;

import dev.anchor.AnchorNode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;

/** GET /health: 200 with the store and queue status once the node can take work, 503 otherwise. */
final class HealthRoutes {
  private final AnchorNode node;

  HealthRoutes(AnchorNode node) {
    this.node = node;
  }

  Route route() {
    return path(
        "health",
        () ->
            get(
                () ->
                    completeWithFuture(
                        node.health()
                            .thenApply(
                                h ->
                                    Json.response(
                                        h.healthy()
                                            ? StatusCodes.OK
                                            : StatusCodes.SERVICE_UNAVAILABLE,
                                        h)))));
  }
}
