package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import dev.anchor.queue.EmbeddedRedis;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real cluster on loopback: one coordinator JVM and two worker JVMs started through ./anchor,
 * sharing a real redis-server and a MongoDB-wire server run by the test. Every task completes with
 * the right result exactly once even when a worker or the coordinator is killed with -9 in the
 * middle of the run, or a worker is frozen (SIGSTOP) past the down-after time and then resumed: it
 * rejoins with a new actor system and takes work again.
 */
@org.junit.jupiter.api.Timeout(value = 15, unit = java.util.concurrent.TimeUnit.MINUTES)
class ClusterIT {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  EmbeddedRedis redis;
  EmbeddedMongoServer mongo;
  final List<AnchorProcess> processes = new ArrayList<>();
  int clusterPort;
  int httpPort;

  @BeforeEach
  void stores() throws Exception {
    redis = EmbeddedRedis.start(tmp.resolve("redis-data"));
    mongo = EmbeddedMongoServer.inMemory();
    clusterPort = AnchorProcess.freePort();
    httpPort = AnchorProcess.freePort();
  }

  @AfterEach
  void stopAll() throws Exception {
    for (AnchorProcess p : processes) p.close();
    if (mongo != null) mongo.close();
    if (redis != null) redis.close();
  }

  Map<String, String> storeEnv() {
    return Map.of(
        "ANCHOR_MONGO_URI",
        mongo.connectionString(),
        "ANCHOR_REDIS_URI",
        redis.uri(),
        "ANCHOR_SEED_NODES",
        "127.0.0.1:" + clusterPort,
        "ANCHOR_DOWN_AFTER",
        "4s");
  }

  AnchorProcess coordinator() throws Exception {
    Map<String, String> env = new java.util.HashMap<>(storeEnv());
    env.put("ANCHOR_CLUSTER_PORT", Integer.toString(clusterPort));
    AnchorProcess p = AnchorProcess.start("coordinator", tmp.resolve("coordinator"), httpPort, env);
    processes.add(p);
    return p;
  }

  AnchorProcess coordinatorOn(int cluster, int http, String seeds) throws Exception {
    Map<String, String> env = new java.util.HashMap<>(storeEnv());
    env.put("ANCHOR_CLUSTER_PORT", Integer.toString(cluster));
    env.put("ANCHOR_SEED_NODES", seeds);
    AnchorProcess p =
        AnchorProcess.start("coordinator", tmp.resolve("coordinator-" + cluster), http, env);
    processes.add(p);
    return p;
  }

  AnchorProcess worker(String name) throws Exception {
    Map<String, String> env = new java.util.HashMap<>(storeEnv());
    env.put("ANCHOR_NODE_NAME", name);
    env.put("ANCHOR_WORKER_CAPACITY", "3");
    AnchorProcess p =
        AnchorProcess.start("worker", tmp.resolve(name), AnchorProcess.freePort(), env);
    processes.add(p);
    return p;
  }

  void awaitNodes(AnchorProcess c, int online) throws Exception {
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

  List<String> submit(AnchorProcess c, int from, int count) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      // a little work per task, so that a crash lands while jobs are running
      HttpResponse<String> r =
          c.post(
              "/api/tasks",
              """
          {"name":"t%d","payload":{"runtime":"js","sourceCode":"let s = 0; for (let k = 0; k < 200000; k++) s += k %% 7; input.n * 3 + (s > 0 ? 0 : 1)"},"input":{"n":%d},"retries":{"attempts":5,"backoffMs":200}}
          """
                  .formatted(i, i));
      assertEquals(201, r.statusCode(), r.body());
      ids.add(JSON.readTree(r.body()).path("taskId").asText());
    }
    return ids;
  }

  long completed(AnchorProcess c, List<String> ids) throws Exception {
    long n = 0;
    for (String id : ids) {
      HttpResponse<String> r = c.get("/api/tasks/" + id);
      if (r.statusCode() == 200
          && JSON.readTree(r.body()).path("status").asText().equals("Completed")) n++;
    }
    return n;
  }

  void awaitCompleted(AnchorProcess c, List<String> ids, long atLeast, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    long n = 0;
    while (System.nanoTime() < deadline) {
      n = completed(c, ids);
      if (n >= atLeast) return;
      TimeUnit.MILLISECONDS.sleep(500);
    }
    throw new AssertionError(
        n + " of " + ids.size() + " completed, wanted " + atLeast + "\n" + c.output());
  }

  void assertAllRightOnce(AnchorProcess c, List<String> ids, int from) throws Exception {
    for (int i = 0; i < ids.size(); i++) {
      JsonNode t = JSON.readTree(c.get("/api/tasks/" + ids.get(i)).body());
      assertEquals("Completed", t.path("status").asText(), t.toString());
      assertEquals(String.valueOf((from + i) * 3), t.path("result").asText(), t.toString());
      long completions = 0;
      for (JsonNode h : t.path("history"))
        if (h.path("event").asText().equals("Completed")) completions++;
      assertEquals(1, completions, "recorded once: " + t);
    }
  }

  @Test
  void everyTaskCompletesOnceWhenAWorkerIsKilledMidRun() throws Exception {
    AnchorProcess c = coordinator();
    c.awaitHealthy(Duration.ofSeconds(150));
    AnchorProcess w1 = worker("w1");
    AnchorProcess w2 = worker("w2");
    awaitNodes(c, 2);
    List<String> ids = submit(c, 0, 200);
    awaitCompleted(c, ids, 30, Duration.ofMinutes(3));
    w1.kill9();
    awaitCompleted(c, ids, ids.size(), Duration.ofMinutes(5));
    assertAllRightOnce(c, ids, 0);
    assertTrue(w2.process.isAlive());
  }

  @Test
  void everyTaskCompletesOnceWhenTheCoordinatorIsKilledAndRestarted() throws Exception {
    AnchorProcess c = coordinator();
    c.awaitHealthy(Duration.ofSeconds(150));
    worker("w1");
    worker("w2");
    awaitNodes(c, 2);
    List<String> ids = submit(c, 0, 120);
    awaitCompleted(c, ids, 20, Duration.ofMinutes(3));
    c.kill9();
    AnchorProcess again = coordinator();
    again.awaitHealthy(Duration.ofSeconds(150));
    awaitCompleted(again, ids, ids.size(), Duration.ofMinutes(5));
    assertAllRightOnce(again, ids, 0);
  }

  @Test
  void whenOneOfTwoCoordinatorsDiesItsShardsMoveAndItsTasksComplete() throws Exception {
    int secondCluster = AnchorProcess.freePort();
    String seeds = "127.0.0.1:" + clusterPort + ",127.0.0.1:" + secondCluster;
    AnchorProcess c1 = coordinatorOn(clusterPort, httpPort, seeds);
    c1.awaitHealthy(Duration.ofSeconds(150));
    AnchorProcess c2 = coordinatorOn(secondCluster, AnchorProcess.freePort(), seeds);
    c2.awaitHealthy(Duration.ofSeconds(150));
    worker("w1");
    worker("w2");
    awaitNodes(c2, 2);
    // submitted through both, so both coordinators host task entities
    List<String> ids = new ArrayList<>(submit(c1, 0, 60));
    ids.addAll(submit(c2, 60, 60));
    awaitCompleted(c2, ids, 15, Duration.ofMinutes(3));
    c1.kill9();
    awaitCompleted(c2, ids, ids.size(), Duration.ofMinutes(5));
    assertAllRightOnce(c2, ids, 0);
  }

  // ---------------------------------------------------------------- a frozen worker

  /** Tasks busy for {@code ms} of wall time each, so a worker frozen mid-run holds running jobs. */
  List<String> submitBusy(AnchorProcess c, int from, int count, int ms) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      HttpResponse<String> r =
          c.post(
              "/api/tasks",
              """
          {"name":"b%d","payload":{"runtime":"js","sourceCode":"const t0 = Date.now(); while (Date.now() - t0 < %d) {} input.n * 3"},"input":{"n":%d},"retries":{"attempts":5,"backoffMs":200}}
          """
                  .formatted(i, ms, i));
      assertEquals(201, r.statusCode(), r.body());
      ids.add(JSON.readTree(r.body()).path("taskId").asText());
    }
    return ids;
  }

  JsonNode task(AnchorProcess c, String id) throws Exception {
    return JSON.readTree(c.get("/api/tasks/" + id).body());
  }

  String nodeStatus(AnchorProcess c, String nodeId) throws Exception {
    for (JsonNode node : JSON.readTree(c.get("/api/nodes").body())) {
      if (node.path("nodeId").asText().equals(nodeId)) return node.path("status").asText();
    }
    return "absent";
  }

  /** SIGSTOP / SIGCONT to this JVM alone (./anchor execs the JVM, so the process is the JVM). */
  static void signal(AnchorProcess p, String sig) throws Exception {
    Process kill =
        new ProcessBuilder("kill", "-" + sig, Long.toString(p.process.pid())).inheritIO().start();
    assertTrue(
        kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + sig + " failed");
  }

  @Test
  void aFrozenWorkersJobsRunElsewhereItsLateResultsAreRefusedAndItRejoinsToTakeWorkAgain()
      throws Exception {
    AnchorProcess c = coordinator();
    c.awaitHealthy(Duration.ofSeconds(150));
    AnchorProcess w1 = worker("w1");
    worker("w2");
    awaitNodes(c, 2);
    List<String> ids = submitBusy(c, 0, 30, 3000);
    // w1 holds running jobs when it freezes
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    List<String> onW1 = List.of();
    while (onW1.isEmpty() && System.nanoTime() < deadline) {
      List<String> running = new ArrayList<>();
      for (String id : ids) {
        JsonNode t = task(c, id);
        if (t.path("status").asText().equals("Running") && t.path("nodeId").asText().equals("w1"))
          running.add(id);
      }
      onW1 = running;
      if (onW1.isEmpty()) TimeUnit.MILLISECONDS.sleep(200);
    }
    assertTrue(!onW1.isEmpty(), "no task ran on w1");
    signal(w1, "STOP");
    try {
      // frozen past the down-after time (4 s here): the cluster downs it and its jobs run again on
      // w2
      deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      String held = onW1.get(0);
      boolean rerun = false;
      while (!rerun && System.nanoTime() < deadline) {
        for (JsonNode h : task(c, held).path("history")) {
          rerun |=
              h.path("event").asText().equals("AttemptFailed")
                  && h.path("nodeId").asText().equals("w1");
        }
        if (!rerun) TimeUnit.MILLISECONDS.sleep(500);
      }
      assertTrue(rerun, "the job w1 held was not given up: " + task(c, held));
      assertTrue(!nodeStatus(c, "w1").equals("Online"), "w1 still online while frozen");
    } finally {
      signal(w1, "CONT");
    }
    // the JVM stays up and comes back as w1 with a new actor system
    deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    while (!nodeStatus(c, "w1").equals("Online") && System.nanoTime() < deadline) {
      assertTrue(
          w1.process.isAlive(), "the downed worker exited instead of rejoining:\n" + w1.output());
      TimeUnit.MILLISECONDS.sleep(500);
    }
    assertEquals("Online", nodeStatus(c, "w1"), w1.output());
    assertTrue(w1.output().contains("starting a new actor system"), w1.output());

    awaitCompleted(c, ids, ids.size(), Duration.ofMinutes(5));
    for (int i = 0; i < ids.size(); i++) {
      JsonNode t = task(c, ids.get(i));
      assertEquals(String.valueOf(i * 3), t.path("result").asText(), t.toString());
      long completions = 0;
      for (JsonNode h : t.path("history"))
        if (h.path("event").asText().equals("Completed")) completions++;
      assertEquals(1, completions, "recorded once: " + t);
    }
    for (String id : onW1) {
      // w1's attempt was given up when it was downed; the result that counts is the attempt that
      // replaced it (w1
      // reports its own once it wakes up, or its new incarnation runs the job again: refused, not
      // recorded)
      JsonNode t = task(c, id);
      int lostAttempt = 0;
      int completedAttempt = 0;
      for (JsonNode h : t.path("history")) {
        if (h.path("event").asText().equals("AttemptFailed")
            && h.path("nodeId").asText().equals("w1")) {
          lostAttempt = h.path("attempt").asInt();
        }
        if (h.path("event").asText().equals("Completed"))
          completedAttempt = h.path("attempt").asInt();
      }
      assertTrue(
          lostAttempt > 0 && completedAttempt > lostAttempt, "w1's attempt was not replaced: " + t);
    }

    // and it takes work again
    List<String> more = submitBusy(c, 100, 18, 1000);
    awaitCompleted(c, more, more.size(), Duration.ofMinutes(3));
    long onRejoined = 0;
    for (String id : more) if (task(c, id).path("nodeId").asText().equals("w1")) onRejoined++;
    assertTrue(onRejoined > 0, "the rejoined worker took none of 18 tasks");
  }
}
