package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import dev.anchor.queue.EmbeddedRedis;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Consensus verification and operator control on real JVMs: a coordinator and four workers started
 * through ./anchor, one of them with ANCHOR_FAULT=corrupt-results, sharing a real redis-server and
 * a MongoDB-wire server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Timeout(value = 15, unit = TimeUnit.MINUTES)
class ConsensusIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> HONEST = List.of("w1", "w2", "w3");
  static final String CHEAT = "w4";
  // (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
  static final String ADD = "AGFzbQEAAAABBwFgAn9/AX8DAgEABwcBA2FkZAAACgkBBwAgACABags=";

  Path tmp;
  EmbeddedRedis redis;
  EmbeddedMongoServer mongo;
  final List<AnchorProcess> processes = new ArrayList<>();
  AnchorProcess coordinator;
  int managementPort;
  int jmxPort;

  @BeforeAll
  void startCluster() throws Exception {
    tmp = Files.createTempDirectory("anchor-consensus-it");
    redis = EmbeddedRedis.start(tmp.resolve("redis-data"));
    mongo = EmbeddedMongoServer.inMemory();
    int clusterPort = AnchorProcess.freePort();
    Map<String, String> stores =
        Map.of(
            "ANCHOR_MONGO_URI",
            mongo.connectionString(),
            "ANCHOR_REDIS_URI",
            redis.uri(),
            "ANCHOR_SEED_NODES",
            "127.0.0.1:" + clusterPort,
            "ANCHOR_DOWN_AFTER",
            "4s",
            "ANCHOR_SPOT_CHECK_FRACTION",
            "0");
    Map<String, String> env = new HashMap<>(stores);
    env.put("ANCHOR_CLUSTER_PORT", Integer.toString(clusterPort));
    managementPort = AnchorProcess.freePort();
    jmxPort = AnchorProcess.freePort();
    env.put("ANCHOR_MANAGEMENT_PORT", Integer.toString(managementPort));
    env.put("ANCHOR_JMX_PORT", Integer.toString(jmxPort));
    coordinator = start("coordinator", "coordinator", env);
    coordinator.awaitHealthy(Duration.ofSeconds(180));
    for (String name : List.of("w1", "w2", "w3", CHEAT)) {
      Map<String, String> w = new HashMap<>(stores);
      w.put("ANCHOR_NODE_NAME", name);
      w.put("ANCHOR_WORKER_CAPACITY", "2");
      w.put("ANCHOR_JS_WORKERS", "1");
      if (name.equals(CHEAT)) w.put("ANCHOR_FAULT", "corrupt-results");
      start("worker", name, w);
    }
    awaitOnline(4);
  }

  private AnchorProcess start(String role, String dir, Map<String, String> env) throws Exception {
    AnchorProcess p = AnchorProcess.start(role, tmp.resolve(dir), AnchorProcess.freePort(), env);
    processes.add(p);
    return p;
  }

  @AfterAll
  void stopCluster() throws Exception {
    for (AnchorProcess p : processes) p.close();
    if (mongo != null) mongo.close();
    if (redis != null) redis.close();
  }

  // ------------------------------------------------------------------ helpers

  JsonNode nodes() throws Exception {
    return JSON.readTree(coordinator.get("/api/nodes").body());
  }

  JsonNode node(String id) throws Exception {
    for (JsonNode n : nodes()) if (n.path("nodeId").asText().equals(id)) return n;
    return JSON.createObjectNode();
  }

  void awaitOnline(int count) throws Exception {
    await(
        Duration.ofSeconds(240),
        "expected " + count + " online nodes",
        () -> {
          int n = 0;
          for (JsonNode node : nodes()) if (node.path("status").asText().equals("Online")) n++;
          return n >= count;
        });
  }

  interface Check {
    boolean ok() throws Exception;
  }

  static void await(Duration timeout, String what, Check check) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (check.ok()) return;
      TimeUnit.MILLISECONDS.sleep(300);
    }
    throw new AssertionError(what + " within " + timeout);
  }

  String submit(String body) throws Exception {
    HttpResponse<String> r = coordinator.post("/api/tasks", body);
    assertEquals(201, r.statusCode(), r.body());
    return JSON.readTree(r.body()).path("taskId").asText();
  }

  String verifiedAdd(int i) throws Exception {
    return submit(
        """
        {"name":"add%d","payload":{"runtime":"wasm","wasm":"%s","entry":"add","args":[%d,40]},
         "verification":{"replicas":3,"quorum":2}}"""
            .formatted(i, ADD, i));
  }

  List<JsonNode> awaitAll(List<String> ids, Duration timeout) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String id : ids) out.add(StandaloneCrashIT.awaitEnd(coordinator, id, timeout));
    return out;
  }

  static Set<String> replicaNodes(JsonNode task) {
    Set<String> out = new HashSet<>();
    for (JsonNode r : task.path("verification").path("runs")) out.add(r.path("nodeId").asText());
    return out;
  }

  // ------------------------------------------------------------------ consensus

  @Test
  @Order(1)
  void verifiedTasksCompleteWithTheHonestAnswerAndTheCheatIsQuarantinedWithEvidence()
      throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 50; i++) ids.add(verifiedAdd(i));
    List<JsonNode> done = awaitAll(ids, Duration.ofMinutes(5));

    int sawCheat = 0;
    for (int i = 0; i < done.size(); i++) {
      JsonNode t = done.get(i);
      assertEquals("Completed", t.path("status").asText(), t.toString());
      assertEquals(i + 40, t.path("result").asInt(), t.toString());
      JsonNode v = t.path("verification");
      Set<String> agreeing = new HashSet<>();
      v.path("agreeing").forEach(n -> agreeing.add(n.asText()));
      assertTrue(agreeing.size() >= 2 && HONEST.containsAll(agreeing), "honest quorum: " + t);
      Set<String> nodes = replicaNodes(t);
      assertEquals(
          v.path("runs").size(), nodes.size(), "replicas of one task on distinct nodes: " + t);
      if (nodes.contains(CHEAT)) sawCheat++;
      for (JsonNode d : v.path("disagreeing")) assertEquals(CHEAT, d.asText(), t.toString());
    }
    assertTrue(sawCheat >= 2, "the corrupting node ran replicas of " + sawCheat + " tasks");

    await(
        Duration.ofSeconds(60),
        "w4 quarantined: " + node(CHEAT),
        () -> node(CHEAT).path("quarantined").asBoolean());
    JsonNode cheat = node(CHEAT);
    assertFalse(cheat.path("acceptsTasks").asBoolean(), cheat.toString());
    assertTrue(cheat.path("disagreed").asLong() >= 2, cheat.toString());
    assertTrue(cheat.path("reputation").asDouble() < 0.2, cheat.toString());
    for (String honest : HONEST) {
      JsonNode h = node(honest);
      assertFalse(h.path("quarantined").asBoolean(), h.toString());
      assertEquals(0, h.path("disagreed").asLong(), h.toString());
      assertTrue(h.path("agreed").asLong() > 0, h.toString());
    }

    // fraud evidence: listed for the cheat, each record kept for 7 days, readable one by one
    JsonNode records = JSON.readTree(coordinator.get("/api/fraud?nodeId=" + CHEAT).body());
    assertTrue(records.size() >= 2, records.toString());
    for (JsonNode r : records) {
      assertEquals(
          Duration.ofDays(7).toMillis(),
          r.path("expiresAt").asLong() - r.path("createdAt").asLong());
      assertTrue(r.path("faultyNodes").toString().contains(CHEAT), r.toString());
      assertTrue(r.path("replicas").size() >= 2, r.toString());
      assertTrue(r.path("codeHash").asText().length() >= 64, r.toString());
    }
    String id = records.get(0).path("id").asText();
    HttpResponse<String> one = coordinator.get("/api/fraud/" + id);
    assertEquals(200, one.statusCode(), one.body());
    assertEquals(id, JSON.readTree(one.body()).path("taskId").asText());
    assertEquals(404, coordinator.get("/api/fraud/no-such-record").statusCode());
    assertEquals(0, JSON.readTree(coordinator.get("/api/fraud?nodeId=w1").body()).size());
    HttpResponse<String> bad = coordinator.get("/api/fraud?since=yesterday");
    assertEquals(400, bad.statusCode());
    assertEquals("since", JSON.readTree(bad.body()).path("field").asText());

    // a quarantined node gets no more jobs
    List<String> after = new ArrayList<>();
    for (int i = 100; i < 120; i++) after.add(verifiedAdd(i));
    for (JsonNode t : awaitAll(after, Duration.ofMinutes(3))) {
      assertEquals("Completed", t.path("status").asText(), t.toString());
      assertFalse(replicaNodes(t).contains(CHEAT), "quarantined node got a job: " + t);
      assertEquals(0, t.path("verification").path("disagreeing").size(), t.toString());
    }
  }

  @Test
  @Order(2)
  void badVerificationSettingsAreRefusedNamingTheField() throws Exception {
    Map<String, String> cases =
        Map.of(
            "{\"replicas\":1}", "verification.replicas",
            "{\"replicas\":3,\"quorum\":4}", "verification.quorum",
            "{\"replicas\":2,\"policy\":\"sometimes\"}", "verification.policy",
            "{\"replicas\":\"three\"}", "verification.replicas",
            "{\"replicas\":3,\"maxReplicas\":2}", "verification.maxReplicas",
            "{\"quorum\":2}", "verification.replicas",
            "[3]", "verification");
    for (var c : cases.entrySet()) {
      HttpResponse<String> r =
          coordinator.post(
              "/api/tasks",
              "{\"payload\":{\"sourceCode\":\"1\"},\"verification\":" + c.getKey() + "}");
      assertEquals(400, r.statusCode(), c.getKey() + " -> " + r.body());
      assertEquals(
          c.getValue(),
          JSON.readTree(r.body()).path("field").asText(),
          c.getKey() + " -> " + r.body());
    }
  }

  // ------------------------------------------------------------------ operator control

  @Test
  @Order(3)
  void drainingANodeMidLoadLosesNoJobAndItTakesNoNewOnesUntilReturnedToService() throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      ids.add(
          submit(
              """
          {"name":"load%d","payload":{"runtime":"js","sourceCode":"let s = 0; for (let k = 0; k < 3000000; k++) s += k %% 7; input.n * 2 + (s > 0 ? 0 : 1)"},"input":{"n":%d}}
          """
                  .formatted(i, i)));
    }
    // drain w1 while the load is queued and running
    await(
        Duration.ofSeconds(120),
        "w1 has work",
        () -> node("w1").path("metrics").path("runningTasks").asInt() > 0);
    HttpResponse<String> drained = coordinator.post("/api/nodes/w1/drain", "");
    assertEquals(200, drained.statusCode(), drained.body());
    await(
        Duration.ofSeconds(30),
        "w1 draining",
        () -> node("w1").path("status").asText().equals("Draining"));

    List<String> later = new ArrayList<>();
    for (int i = 40; i < 60; i++) {
      later.add(
          submit(
              "{\"name\":\"late%d\",\"payload\":{\"sourceCode\":\"input.n * 2\"},\"input\":{\"n\":%d}}"
                  .formatted(i, i)));
    }
    List<JsonNode> all = awaitAll(ids, Duration.ofMinutes(6));
    all.addAll(awaitAll(later, Duration.ofMinutes(3)));
    int requeued = 0;
    for (int i = 0; i < all.size(); i++) {
      JsonNode t = all.get(i);
      assertEquals("Completed", t.path("status").asText(), t.toString());
      assertEquals(i * 2, t.path("result").asInt(), t.toString());
      long completions = 0;
      for (JsonNode h : t.path("history")) {
        if (h.path("event").asText().equals("Completed")) completions++;
        if (h.path("event").asText().equals("Requeued")) requeued++;
      }
      assertEquals(1, completions, "recorded once: " + t);
      if (i >= 40)
        assertFalse(t.path("nodeId").asText().equals("w1"), "a draining node took new work: " + t);
    }
    System.out.println(
        "ConsensusIT: jobs moved off the drained node before it read them: " + requeued);

    HttpResponse<String> back = coordinator.post("/api/nodes/w1/uncordon", "");
    assertEquals(200, back.statusCode(), back.body());
    await(
        Duration.ofSeconds(30),
        "w1 online again",
        () -> node("w1").path("status").asText().equals("Online"));
    assertEquals(404, coordinator.post("/api/nodes/no-such-node/drain", "").statusCode());

    HttpResponse<String> released = coordinator.post("/api/nodes/" + CHEAT + "/release", "");
    assertEquals(200, released.statusCode(), released.body());
    await(
        Duration.ofSeconds(30), "w4 released", () -> !node(CHEAT).path("quarantined").asBoolean());
  }

  @Test
  @Order(4)
  void operatorsSeeTheClusterThroughPekkoManagementAndControlNodesOverJmx() throws Exception {
    java.net.http.HttpResponse<String> members =
        AnchorProcess.HTTP.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + managementPort + "/cluster/members"))
                .GET()
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    assertEquals(200, members.statusCode(), members.body());
    int up = 0;
    for (JsonNode m : JSON.readTree(members.body()).path("members"))
      if (m.path("status").asText().equals("Up")) up++;
    assertEquals(5, up, members.body());

    var url =
        new javax.management.remote.JMXServiceURL(
            "service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort + "/jmxrmi");
    try (var connector = javax.management.remote.JMXConnectorFactory.connect(url)) {
      var mbeans = connector.getMBeanServerConnection();
      assertFalse(
          mbeans
              .queryNames(new javax.management.ObjectName("pekko:type=Cluster,*"), null)
              .isEmpty(),
          "Pekko's own cluster MBean is switched on");
      var cluster = new javax.management.ObjectName("dev.anchor:type=Cluster,name=nodes");
      var w2 = new javax.management.ObjectName("dev.anchor:type=Node,name=w2");
      await(Duration.ofSeconds(30), "the MBean of w2", () -> mbeans.isRegistered(w2));
      assertTrue(((Number) mbeans.getAttribute(w2, "Reputation")).doubleValue() > 0.5);

      mbeans.invoke(cluster, "cordon", new Object[] {"w2"}, new String[] {String.class.getName()});
      await(
          Duration.ofSeconds(30),
          "w2 cordoned over JMX",
          () -> node("w2").path("cordoned").asBoolean());
      // the MBean's attributes are a view at most ~2 s old
      await(
          Duration.ofSeconds(10),
          "the w2 MBean shows the cordon",
          () -> Boolean.TRUE.equals(mbeans.getAttribute(w2, "Cordoned")));
      mbeans.invoke(w2, "uncordon", new Object[0], new String[0]);
      await(
          Duration.ofSeconds(30),
          "w2 uncordoned over JMX",
          () -> !node("w2").path("cordoned").asBoolean());
    }
  }
}
