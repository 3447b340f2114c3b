package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import dev.anchor.consensus.FraudStore;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Fraud evidence: {@code GET /api/fraud?nodeId=&since=&limit=} (newest first; nodeId = records
 * naming it faulty, since = epoch milliseconds or an ISO-8601 instant, limit 1–1000, default 100)
 * and {@code GET /api/fraud/{id}}. Records expire after {@code anchor.verification.fraud-retention}
 * (7 days).
 */
final class FraudRoutes {
  private final FraudStore store;

  /**
   * @param store null where this JVM does not coordinate
   */
  FraudRoutes(FraudStore store) {
    this.store = store;
  }

  Route route() {
    return pathPrefix(
        segment("api").slash("fraud"),
        () ->
            concat(
                pathEndOrSingleSlash(
                    () ->
                        get(
                            () ->
                                parameterOptional(
                                    "nodeId",
                                    nodeId ->
                                        parameterOptional(
                                            "since",
                                            since ->
                                                parameterOptional(
                                                    "limit",
                                                    limit ->
                                                        completeWithFuture(
                                                            list(nodeId, since, limit))))))),
                path(segment(), id -> get(() -> completeWithFuture(one(id))))));
  }

  private CompletableFuture<HttpResponse> list(
      Optional<String> nodeId, Optional<String> since, Optional<String> limit) {
    if (store == null) return CompletableFuture.completedFuture(notHere());
    Long sinceMs;
    int max;
    try {
      sinceMs = since.map(FraudRoutes::instant).orElse(null);
      max = limit.map(FraudRoutes::limit).orElse(100);
    } catch (BadRequest e) {
      return CompletableFuture.completedFuture(
          Json.error(StatusCodes.BAD_REQUEST, e.getMessage(), e.field()));
    }
    String node = nodeId.filter(n -> !n.isBlank()).orElse(null);
    return CompletableFuture.supplyAsync(() -> Json.ok(store.list(node, sinceMs, max)));
  }

  private CompletableFuture<HttpResponse> one(String id) {
    if (store == null) return CompletableFuture.completedFuture(notHere());
    return CompletableFuture.supplyAsync(
        () ->
            store
                .get(id)
                .map(Json::ok)
                .orElseGet(
                    () ->
                        Json.error(
                            StatusCodes.NOT_FOUND,
                            "no fraud record " + id + " (or it expired)",
                            "id")));
  }

  private static HttpResponse notHere() {
    return Json.error(
        StatusCodes.SERVICE_UNAVAILABLE, "fraud evidence is served by coordinator nodes", null);
  }

  static long instant(String s) {
    String t = s.trim();
    if (t.matches("\\d{1,19}")) {
      try {
        return Long.parseLong(t);
      } catch (NumberFormatException ignored) {
        // too large: reported below
      }
    }
    try {
      return Instant.parse(t).toEpochMilli();
    } catch (DateTimeParseException e) {
      throw new BadRequest(
          "since",
          "since must be epoch milliseconds or an ISO-8601 instant such as "
              + "2026-11-25T10:00:00Z, not '"
              + s
              + "'");
    }
  }

  static int limit(String s) {
    try {
      int n = Integer.parseInt(s.trim());
      if (n >= 1 && n <= FraudStore.MAX_LIST) return n;
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw new BadRequest("limit", "limit must be a whole number from 1 to " + FraudStore.MAX_LIST);
  }
}
