package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Consensus verification and operator control on real JVMs: a coordinator and four workers started
 * through ./anchor, one of them with ANCHOR_FAULT=corrupt-results, sharing a real redis-server and
 * a MongoDB-wire server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Timeout(value = 15, unit = TimeUnit.MINUTES)
class ConsensusIT {
  static final ObjectMapper JSON = ApiClient.JSON;
  static final List<String> HONEST = List.of("w1", "w2", "w3");
  static final String CHEAT = "w4";
  // (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
  static final String ADD = "AGFzbQEAAAABBwFgAn9/AX8DAgEABwcBA2FkZAAACgkBBwAgACABags=";

  static final int MANAGEMENT_PORT = AnchorProcess.reservePort();
  static final int JMX_PORT = AnchorProcess.reservePort();

  @RegisterExtension
  static final AnchorCluster cluster =
      AnchorCluster.coordinator()
          .workers("w1", "w2", "w3", CHEAT)
          .env("ANCHOR_DOWN_AFTER", "4s")
          .env("ANCHOR_SPOT_CHECK_FRACTION", "0")
          .coordinatorEnv("ANCHOR_MANAGEMENT_PORT", Integer.toString(MANAGEMENT_PORT))
          .coordinatorEnv("ANCHOR_JMX_PORT", Integer.toString(JMX_PORT))
          .workerEnv("ANCHOR_WORKER_CAPACITY", "2")
          .workerEnv("ANCHOR_JS_WORKERS", "1")
          .workerEnv(CHEAT, "ANCHOR_FAULT", "corrupt-results");

  ApiClient coordinator;

  @BeforeAll
  void client() {
    coordinator = cluster.api();
  }

  // ------------------------------------------------------------------ helpers

  JsonNode node(String id) throws Exception {
    return coordinator.node(id);
  }

  String submit(String body) throws Exception {
    return coordinator.submit(body);
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
    for (String id : ids) out.add(coordinator.awaitEnd(id, timeout));
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

    Poll.until(
        "w4 quarantined: " + node(CHEAT),
        Duration.ofSeconds(60),
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
    Poll.until(
        "w1 has work",
        Duration.ofSeconds(120),
        () -> node("w1").path("metrics").path("runningTasks").asInt() > 0);
    HttpResponse<String> drained = coordinator.post("/api/nodes/w1/drain", "");
    assertEquals(200, drained.statusCode(), drained.body());
    Poll.until(
        "w1 draining",
        Duration.ofSeconds(30),
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
    Poll.until(
        "w1 online again",
        Duration.ofSeconds(30),
        () -> node("w1").path("status").asText().equals("Online"));
    assertEquals(404, coordinator.post("/api/nodes/no-such-node/drain", "").statusCode());

    HttpResponse<String> released = coordinator.post("/api/nodes/" + CHEAT + "/release", "");
    assertEquals(200, released.statusCode(), released.body());
    Poll.until(
        "w4 released", Duration.ofSeconds(30), () -> !node(CHEAT).path("quarantined").asBoolean());
  }

  @Test
  @Order(4)
  void operatorsSeeTheClusterThroughPekkoManagementAndControlNodesOverJmx() throws Exception {
    java.net.http.HttpResponse<String> members =
        ApiClient.HTTP.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + MANAGEMENT_PORT + "/cluster/members"))
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
            "service:jmx:rmi:///jndi/rmi://127.0.0.1:" + JMX_PORT + "/jmxrmi");
    try (var connector = javax.management.remote.JMXConnectorFactory.connect(url)) {
      var mbeans = connector.getMBeanServerConnection();
      assertFalse(
          mbeans
              .queryNames(new javax.management.ObjectName("pekko:type=Cluster,*"), null)
              .isEmpty(),
          "Pekko's own cluster MBean is switched on");
      var cluster = new javax.management.ObjectName("dev.anchor:type=Cluster,name=nodes");
      var w2 = new javax.management.ObjectName("dev.anchor:type=Node,name=w2");
      Poll.until("the MBean of w2", Duration.ofSeconds(30), () -> mbeans.isRegistered(w2));
      assertTrue(((Number) mbeans.getAttribute(w2, "Reputation")).doubleValue() > 0.5);

      mbeans.invoke(cluster, "cordon", new Object[] {"w2"}, new String[] {String.class.getName()});
      Poll.until(
          "w2 cordoned over JMX",
          Duration.ofSeconds(30),
          () -> node("w2").path("cordoned").asBoolean());
      // the MBean's attributes are a view at most ~2 s old
      Poll.until(
          "the w2 MBean shows the cordon",
          Duration.ofSeconds(10),
          () -> Boolean.TRUE.equals(mbeans.getAttribute(w2, "Cordoned")));
      mbeans.invoke(w2, "uncordon", new Object[0], new String[0]);
      Poll.until(
          "w2 uncordoned over JMX",
          Duration.ofSeconds(30),
          () -> !node("w2").path("cordoned").asBoolean());
    }
  }
}
