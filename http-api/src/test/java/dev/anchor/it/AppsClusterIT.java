package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A coordinator and two workers: an app survives a drain (moved gracefully), a coordinator kill -9
 * and restart (not restarted: same pid), and a kill -9 of the worker hosting it (placed on the
 * other worker and serving again).
 */
@org.junit.jupiter.api.Timeout(value = 6, unit = TimeUnit.MINUTES)
class AppsClusterIT {
  static final String APP =
      """
      {"name":"failover","type":"Web","config":{"port":%d,"ram":"128MB","cpu":1},
       "source":{"files":{"index.js":"require('http').createServer((q,s)=>s.end('up')).listen(Number(process.env.PORT))"}}}""";

  @RegisterExtension
  final AnchorCluster cluster =
      AnchorCluster.coordinator()
          .workers("app-w1", "app-w2")
          .env("ANCHOR_DOWN_AFTER", "4s")
          .env("ANCHOR_JS_WORKERS", "1");

  @Test
  void anAppSurvivesDrainCoordinatorRestartAndTheLossOfItsWorker() throws Exception {
    ApiClient api = cluster.api();
    HttpResponse<String> created =
        api.post("/api/clusters", APP.formatted(AnchorProcess.freePort()));
    assertEquals(201, created.statusCode(), created.body());
    String id = ApiClient.json(created).path("clusterId").asText();
    JsonNode first = awaitRunning(api, id, null, Duration.ofSeconds(60));
    String firstNode = first.path("nodeId").asText();
    assertEquals("up", fetch(first));

    // ---- drain its node: it moves to the other worker, serving all along
    HttpResponse<String> drain = api.post("/api/nodes/" + firstNode + "/drain", "");
    assertEquals(200, drain.statusCode(), drain.body());
    JsonNode moved =
        Poll.until(
            "app " + id + " moved off the drained node " + firstNode,
            Duration.ofSeconds(60),
            Duration.ofMillis(200),
            () -> {
              assertEquals("up", fetch(first), "the app stops serving during a drain");
              return api.app(id);
            },
            app ->
                "Running".equals(app.path("status").asText())
                    && !firstNode.equals(app.path("nodeId").asText()));
    cluster.adopt(moved.path("pid").asLong());
    awaitGone(first.path("pid").asLong());
    String secondNode = moved.path("nodeId").asText();
    api.post("/api/nodes/" + firstNode + "/uncordon", ""); // back in service for the failover below

    // ---- coordinator kill -9 and restart: the app is recovered, not restarted
    cluster.node().kill9();
    ApiClient restarted = cluster.startCoordinator().api();
    JsonNode recovered = awaitRunning(restarted, id, null, Duration.ofSeconds(60));
    assertEquals(
        moved.path("pid").asLong(), recovered.path("pid").asLong(), "restarted: " + recovered);
    assertEquals(secondNode, recovered.path("nodeId").asText());
    restarted.awaitOnline(2, Duration.ofSeconds(150));

    // ---- kill -9 of the hosting worker: placed on the other one, serving again
    cluster.worker(secondNode).kill9();
    long killedAt = System.nanoTime();
    JsonNode failedOver = awaitRunning(restarted, id, secondNode, Duration.ofSeconds(90));
    cluster.adopt(failedOver.path("pid").asLong());
    long ms = (System.nanoTime() - killedAt) / 1_000_000;
    assertEquals("up", fetch(failedOver));
    System.out.println(
        "RESULT app failover after worker kill -9: serving again after " + ms + " ms");
    awaitGone(moved.path("pid").asLong()); // the watchdog killed the app of the dead worker
  }

  /** Until the app is Running and healthy (on another node than {@code notOn}, when given). */
  private JsonNode awaitRunning(ApiClient api, String id, String notOn, Duration timeout)
      throws Exception {
    JsonNode app =
        api.awaitApp(
            id,
            "Running and healthy" + (notOn == null ? "" : " off " + notOn),
            timeout,
            a ->
                "Running".equals(a.path("status").asText())
                    && "healthy".equals(a.path("health").asText())
                    && (notOn == null || !notOn.equals(a.path("nodeId").asText())));
    cluster.adopt(app.path("pid").asLong());
    return app;
  }

  /** What the app serves at its URL; no answer (or not a 200) fails the test at once. */
  private static String fetch(JsonNode app) throws Exception {
    String url = app.path("url").asText();
    HttpResponse<String> r;
    try {
      r = ApiClient.anonymous(url).withTimeout(Duration.ofSeconds(10)).get("");
    } catch (IOException e) {
      throw new AssertionError(url + " does not answer: " + e, e);
    }
    assertEquals(200, r.statusCode(), url + " -> " + r.statusCode() + " " + r.body());
    return r.body();
  }

  private static void awaitGone(long pid) throws Exception {
    Poll.until(
        "pid " + pid + " gone",
        Duration.ofSeconds(20),
        Duration.ofMillis(100),
        () -> ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
        alive -> !alive);
  }
}
