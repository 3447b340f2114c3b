package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import dev.anchor.queue.EmbeddedRedis;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator and two workers: an app survives a drain (moved gracefully), a coordinator kill -9
 * and restart (not restarted: same pid), and a kill -9 of the worker hosting it (placed on the
 * other worker and serving again).
 */
@org.junit.jupiter.api.Timeout(value = 6, unit = TimeUnit.MINUTES)
class AppsClusterIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String APP =
      """
      {"name":"failover","type":"Web","config":{"port":%d,"ram":"128MB","cpu":1},
       "source":{"files":{"index.js":"require('http').createServer((q,s)=>s.end('up')).listen(Number(process.env.PORT))"}}}""";

  @TempDir Path tmp;

  private EmbeddedRedis redis;
  private EmbeddedMongoServer mongo;
  private int clusterPort;
  private final List<AnchorProcess> processes = new ArrayList<>();
  private final List<Long> pids = new ArrayList<>();

  @AfterEach
  void stopAll() throws Exception {
    for (long pid : pids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    for (AnchorProcess p : processes) p.close();
    if (mongo != null) mongo.close();
    if (redis != null) redis.close();
  }

  private Map<String, String> env() {
    Map<String, String> env =
        new HashMap<>(
            Map.of(
                "ANCHOR_MONGO_URI",
                mongo.connectionString(),
                "ANCHOR_REDIS_URI",
                redis.uri(),
                "ANCHOR_SEED_NODES",
                "127.0.0.1:" + clusterPort,
                "ANCHOR_DOWN_AFTER",
                "4s",
                "ANCHOR_JS_WORKERS",
                "1"));
    return env;
  }

  private AnchorProcess coordinator(int httpPort) throws Exception {
    Map<String, String> env = env();
    env.put("ANCHOR_CLUSTER_PORT", Integer.toString(clusterPort));
    AnchorProcess p = AnchorProcess.start("coordinator", tmp.resolve("coordinator"), httpPort, env);
    processes.add(p);
    return p;
  }

  private AnchorProcess worker(String name) throws Exception {
    Map<String, String> env = env();
    env.put("ANCHOR_NODE_NAME", name);
    AnchorProcess p =
        AnchorProcess.start("worker", tmp.resolve(name), AnchorProcess.freePort(), env);
    processes.add(p);
    return p;
  }

  @Test
  void anAppSurvivesDrainCoordinatorRestartAndTheLossOfItsWorker() throws Exception {
    redis = EmbeddedRedis.start(tmp.resolve("redis-data"));
    mongo = EmbeddedMongoServer.inMemory();
    clusterPort = AnchorProcess.freePort();
    int httpPort = AnchorProcess.freePort();
    AnchorProcess coordinator = coordinator(httpPort);
    AnchorProcess w1 = worker("app-w1");
    AnchorProcess w2 = worker("app-w2");
    coordinator.awaitHealthy(Duration.ofSeconds(150));
    awaitOnline(coordinator, 2);

    HttpResponse<String> created =
        coordinator.post("/api/clusters", APP.formatted(AnchorProcess.freePort()));
    assertEquals(201, created.statusCode(), created.body());
    String id = JSON.readTree(created.body()).path("clusterId").asText();
    JsonNode first = awaitRunning(coordinator, id, null, Duration.ofSeconds(60));
    pids.add(first.path("pid").asLong());
    String firstNode = first.path("nodeId").asText();
    assertEquals("up", fetch(first.path("url").asText()));

    // ---- drain its node: it moves to the other worker, serving all along
    HttpResponse<String> drain = coordinator.post("/api/nodes/" + firstNode + "/drain", "");
    assertEquals(200, drain.statusCode(), drain.body());
    long drainStart = System.nanoTime();
    JsonNode moved = null;
    while (System.nanoTime() - drainStart < Duration.ofSeconds(60).toNanos()) {
      assertEquals("up", fetch(first.path("url").asText()), "the app stops serving during a drain");
      moved = JSON.readTree(coordinator.get("/api/clusters/" + id).body());
      if ("Running".equals(moved.path("status").asText())
          && !firstNode.equals(moved.path("nodeId").asText())) break;
      TimeUnit.MILLISECONDS.sleep(200);
    }
    assertNotEquals(
        firstNode, moved.path("nodeId").asText(), "not moved off the drained node: " + moved);
    pids.add(moved.path("pid").asLong());
    awaitGone(first.path("pid").asLong());
    String secondNode = moved.path("nodeId").asText();
    coordinator.post(
        "/api/nodes/" + firstNode + "/uncordon", ""); // back in service for the failover below

    // ---- coordinator kill -9 and restart: the app is recovered, not restarted
    coordinator.kill9();
    coordinator = coordinator(httpPort);
    coordinator.awaitHealthy(Duration.ofSeconds(150));
    JsonNode recovered = awaitRunning(coordinator, id, null, Duration.ofSeconds(60));
    assertEquals(
        moved.path("pid").asLong(), recovered.path("pid").asLong(), "restarted: " + recovered);
    assertEquals(secondNode, recovered.path("nodeId").asText());
    awaitOnline(coordinator, 2);

    // ---- kill -9 of the hosting worker: placed on the other one, serving again
    AnchorProcess host = secondNode.equals("app-w1") ? w1 : w2;
    host.kill9();
    long killedAt = System.nanoTime();
    JsonNode failedOver = awaitRunning(coordinator, id, secondNode, Duration.ofSeconds(90));
    pids.add(failedOver.path("pid").asLong());
    long ms = (System.nanoTime() - killedAt) / 1_000_000;
    assertEquals("up", fetch(failedOver.path("url").asText()));
    System.out.println(
        "RESULT app failover after worker kill -9: serving again after " + ms + " ms");
    awaitGone(moved.path("pid").asLong()); // the watchdog killed the app of the dead worker
  }

  private static void awaitOnline(AnchorProcess c, int online) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
    String last = "";
    while (System.nanoTime() < deadline) {
      HttpResponse<String> r = c.get("/api/nodes");
      last = r.body();
      int n = 0;
      for (JsonNode node : JSON.readTree(r.body()))
        if (node.path("status").asText().equals("Online")) n++;
      if (n >= online) return;
      TimeUnit.MILLISECONDS.sleep(250);
    }
    throw new AssertionError("expected " + online + " online nodes, got " + last);
  }

  /** Until the app is Running and healthy (on another node than {@code notOn}, when given). */
  private static JsonNode awaitRunning(
      AnchorProcess node, String id, String notOn, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    JsonNode last = null;
    while (System.nanoTime() < deadline) {
      HttpResponse<String> r = node.get("/api/clusters/" + id);
      if (r.statusCode() == 200) {
        last = JSON.readTree(r.body());
        if ("Running".equals(last.path("status").asText())
            && "healthy".equals(last.path("health").asText())
            && (notOn == null || !notOn.equals(last.path("nodeId").asText()))) {
          return last;
        }
      }
      TimeUnit.MILLISECONDS.sleep(250);
    }
    throw new AssertionError("app " + id + " not running within " + timeout + ": " + last);
  }

  private static String fetch(String url) throws Exception {
    HttpResponse<String> r =
        AnchorProcess.HTTP.send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    assertTrue(r.statusCode() == 200, url + " -> " + r.statusCode() + " " + r.body());
    return r.body();
  }

  private static void awaitGone(long pid) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
        && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(100);
    }
    assertTrue(
        !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
        "pid " + pid + " still runs");
  }
}
