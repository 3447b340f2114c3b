package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Admission control on a real standalone with tiny bounds: a burst far beyond them gets 503 with
 * Retry-After (never another error, never a timeout), every task that got its 201 completes, and
 * reads and /health are served meanwhile. The figures under sustained overload are the drill's
 * ({@code ./anchor bench overload}), not this test's.
 */
@org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
class OverloadIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Busy for 100 ms, so the backlog builds up while the burst lasts. */
  private static final String SLOW =
      "{\"name\":\"slow\",\"payload\":{\"runtime\":\"js\",\"sourceCode\":"
          + "\"const t = Date.now(); while (Date.now() - t < 100) {} 1\"}}";

  private static final HttpClient CLIENT =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  @RegisterExtension
  final AnchorCluster standalone =
      AnchorCluster.standalone()
          .env("ANCHOR_MAX_SUBMITS_IN_FLIGHT", "2")
          .env("ANCHOR_MAX_OPEN_TASKS", "20")
          .env("ANCHOR_WORKER_CAPACITY", "2")
          .env("ANCHOR_MONGO_URI", "embedded-memory");

  @Test
  void aBurstBeyondTheBoundsIsRefusedWithRetryAfterAndEveryAcceptedTaskCompletes()
      throws Exception {
    AnchorProcess node = standalone.node();
    ApiClient api = node.api();

    List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      boolean bulk = i % 10 == 0;
      String body =
          bulk
              ? "{\"tasks\":[" + String.join(",", java.util.Collections.nCopies(5, SLOW)) + "]}"
              : SLOW;
      burst.add(
          CLIENT.sendAsync(
              AnchorProcess.authorized(
                      URI.create(node.url(bulk ? "/api/tasks/bulk" : "/api/tasks")))
                  .timeout(Duration.ofSeconds(30))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString()));
    }
    // reads and health are not gated while the burst is answered
    assertEquals(200, node.get("/health").statusCode());
    assertEquals(200, node.get("/api/tasks?limit=5").statusCode());

    Map<Integer, Integer> byStatus = new TreeMap<>();
    List<String> accepted = new ArrayList<>();
    for (var f : burst) {
      HttpResponse<String> r;
      try {
        r = f.get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        String log = node.output();
        throw new AssertionError(
            "a submit got no answer ("
                + byStatus
                + "): "
                + e.getCause()
                + "\n"
                + log.substring(Math.max(0, log.length() - 6000)),
            e);
      }
      byStatus.merge(r.statusCode(), 1, Integer::sum);
      JsonNode b = JSON.readTree(r.body());
      if (r.statusCode() == 201) {
        if (b.has("taskId")) accepted.add(b.path("taskId").asText());
        for (JsonNode id : b.path("taskIds")) accepted.add(id.asText());
      } else {
        assertEquals(503, r.statusCode(), r.body());
        assertTrue(
            r.headers().firstValue("Retry-After").map(v -> Integer.parseInt(v) >= 1).orElse(false),
            r.headers().toString());
        assertTrue(b.path("error").asText().contains("try again"), r.body());
      }
    }
    assertTrue(byStatus.getOrDefault(503, 0) > 0, "no submit was refused: " + byStatus);
    assertTrue(!accepted.isEmpty(), "no submit was accepted: " + byStatus);

    api.awaitCompleted(accepted, accepted.size(), Duration.ofSeconds(120));
    // once the backlog drained, submits are taken again (as soon as the node has read the new
    // count)
    int status =
        Poll.until(
            "a submit taken again after the backlog drained",
            Duration.ofSeconds(10),
            () -> api.post("/api/tasks", SLOW).statusCode(),
            s -> s == 201);
    assertEquals(201, status);
  }
}
