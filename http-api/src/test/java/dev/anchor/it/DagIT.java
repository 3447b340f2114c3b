package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * DAG workflows and map-reduce against a standalone node, as a client sees them: data flows along
 * the edges, big graphs complete, bad graphs are refused before anything runs, and a DAG survives a
 * kill -9 of its node.
 */
@org.junit.jupiter.api.Timeout(value = 15, unit = TimeUnit.MINUTES)
class DagIT {
  static final ObjectMapper JSON = ApiClient.JSON;

  @RegisterExtension static final AnchorCluster standalone = AnchorCluster.standalone();

  static ApiClient node() {
    return standalone.api();
  }

  // ------------------------------------------------------------------ helpers

  static ObjectNode js(String source) {
    ObjectNode p = JSON.createObjectNode();
    p.put("runtime", "js");
    p.put("sourceCode", source);
    return p;
  }

  static ObjectNode task(String id, String source, String... deps) {
    ObjectNode t = JSON.createObjectNode();
    t.put("id", id);
    t.put("type", "script");
    ArrayNode d = t.putArray("dependencies");
    for (String dep : deps) d.add(dep);
    t.set("payload", js(source));
    return t;
  }

  static String schedule(ApiClient p, String path, JsonNode body) throws Exception {
    HttpResponse<String> r = p.post(path, body.toString());
    assertEquals(201, r.statusCode(), r.body());
    JsonNode b = JSON.readTree(r.body());
    assertEquals("Running", b.path("status").asText(), r.body());
    return b.path("dagId").asText();
  }

  static String summary(JsonNode dag) {
    if (dag == null) return "null";
    return "status="
        + dag.path("status")
        + " completed="
        + dag.path("completed")
        + "/"
        + dag.path("total")
        + " running="
        + dag.path("running")
        + " failed="
        + dag.path("failed");
  }

  static JsonNode nodeOf(JsonNode dag, String id) {
    for (JsonNode n : dag.path("nodes")) if (id.equals(n.path("id").asText())) return n;
    throw new AssertionError("no node " + id + " in " + dag);
  }

  static JsonNode badRequest(String path, String body, String field) throws Exception {
    HttpResponse<String> r = node().post(path, body);
    assertEquals(400, r.statusCode(), r.body());
    JsonNode b = JSON.readTree(r.body());
    assertTrue(b.hasNonNull("error"), r.body());
    if (field != null) assertEquals(field, b.path("field").asText(), r.body());
    return b;
  }

  static final String BUSY = "const t0 = Date.now(); while (Date.now() - t0 < %d) {} ";

  // ------------------------------------------------------------------ tests

  @Test
  void theReferenceDagPassesResultsAlongItsEdgesAndStreamsItsProgress() throws Exception {
    ObjectNode body = JSON.createObjectNode();
    body.put("name", "reference");
    body.putObject("input").put("n", 4);
    ArrayNode tasks = body.putArray("tasks");
    tasks.add(
        task("fetch", BUSY.formatted(1500) + "Array.from({length: input.n}, (_, i) => i + 1)"));
    tasks.add(
        task("process_1", "input.fetch.reduce((a, b) => a + b, 0)", "fetch")
            .put("type", "parallel"));
    tasks.add(
        task("process_2", "input.fetch.map(x => x * x).reduce((a, b) => a + b, 0)", "fetch")
            .put("type", "parallel"));
    tasks.add(
        task(
            "aggregate",
            "({sum: input.process_1, squares: input.process_2})",
            "process_1",
            "process_2"));
    String id = schedule(node(), "/api/dag/schedule", body);

    // the event stream ends with the DAG's end; read it while the DAG runs
    HttpResponse<Stream<String>> sse =
        ApiClient.HTTP.send(
            node()
                .request("/api/dag/" + id + "/events")
                .timeout(Duration.ofSeconds(120))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    assertEquals(200, sse.statusCode());
    List<String> events;
    try (Stream<String> lines = sse.body()) {
      events = lines.filter(l -> l.startsWith("event:")).map(l -> l.substring(6).trim()).toList();
    }
    assertEquals("state", events.get(0), events.toString());
    assertEquals("Completed", events.get(events.size() - 1), events.toString());
    assertTrue(events.stream().filter("NodeCompleted"::equals).count() >= 3, events.toString());

    JsonNode dag = node().awaitDagEnd(id, Duration.ofSeconds(120));
    assertEquals("Completed", dag.path("status").asText(), dag.toString());
    assertEquals(JSON.readTree("{\"sum\":10,\"squares\":30}"), dag.path("result"), dag.toString());
    assertEquals(JSON.readTree("[1,2,3,4]"), nodeOf(dag, "fetch").path("result"));
    assertEquals(10, nodeOf(dag, "process_1").path("result").asInt());
    assertEquals("fetch", dag.path("criticalPath").get(0).asText(), dag.toString());
    assertEquals(
        "aggregate", dag.path("criticalPath").get(dag.path("criticalPath").size() - 1).asText());
    assertTrue(dag.path("criticalPathMs").asLong() >= 1500, dag.toString());
    // a node is an ordinary task with a deterministic id
    String taskId = nodeOf(dag, "aggregate").path("taskId").asText();
    assertEquals("dag-" + id + ".aggregate", taskId);
    JsonNode t = JSON.readTree(node().get("/api/tasks/" + taskId).body());
    assertEquals("Completed", t.path("status").asText(), t.toString());
  }

  @Test
  void badGraphsAreRefusedBeforeAnythingRuns() throws Exception {
    String p = "{\"runtime\":\"js\",\"sourceCode\":\"1\"}";
    JsonNode cycle =
        badRequest(
            "/api/dag/schedule",
            """
        {"tasks":[{"id":"a","dependencies":["b"],"payload":%s},{"id":"b","dependencies":["a"],"payload":%s}]}
        """
                .formatted(p, p),
            "dependencies");
    assertTrue(cycle.path("error").asText().contains("a -> b -> a"), cycle.toString());
    assertEquals(JSON.readTree("[\"a\",\"b\",\"a\"]"), cycle.path("ids"));
    JsonNode unknown =
        badRequest(
            "/api/dag/schedule",
            """
        {"tasks":[{"id":"a","dependencies":["ghost"],"payload":%s}]}"""
                .formatted(p),
            "dependencies");
    assertEquals(JSON.readTree("[\"ghost\"]"), unknown.path("ids"));
    JsonNode dup =
        badRequest(
            "/api/dag/schedule",
            """
        {"tasks":[{"id":"a","payload":%s},{"id":"a","payload":%s}]}"""
                .formatted(p, p),
            "tasks");
    assertEquals(JSON.readTree("[\"a\"]"), dup.path("ids"));
    badRequest(
        "/api/dag/schedule",
        """
        {"tasks":[{"id":"a","dependencies":["a"],"payload":%s}]}"""
            .formatted(p),
        "dependencies");
    badRequest("/api/dag/schedule", "{\"tasks\":[]}", "tasks");
    badRequest(
        "/api/dag/schedule",
        """
        {"tasks":[{"id":"a","payload":%s},{"id":"b","dependencies":["a"],"payload":7}]}"""
            .formatted(p),
        "tasks[1].payload"); // no payload is a pass-through node; a payload that is no object is
    // refused
    badRequest(
        "/api/dag/schedule",
        """
        {"failurePolicy":"sometimes","tasks":[{"id":"a","payload":%s}]}"""
            .formatted(p),
        "failurePolicy");
    String mr = "\"map\":%s,\"reduce\":%s".formatted(p, p);
    badRequest("/api/mapreduce", "{\"input\":[1,2],\"partitions\":0," + mr + "}", "partitions");
    badRequest("/api/mapreduce", "{\"input\":{\"a\":1},\"partitions\":2," + mr + "}", "input");
    badRequest("/api/mapreduce", "{\"input\":[1],\"partitions\":2,\"reduce\":" + p + "}", "map");
    badRequest("/api/mapreduce", "{\"input\":[1],\"partitions\":2,\"map\":" + p + "}", "reduce");
  }

  @Test
  void unknownDagsAre404() throws Exception {
    assertEquals(404, node().get("/api/dag/00000000-0000-0000-0000-000000000000").statusCode());
    HttpResponse<String> r = node().delete("/api/dag/nope");
    assertEquals(404, r.statusCode(), r.body());
  }

  @Test
  void aFailedNodeSkipsItsDependentsAndFailsTheDag() throws Exception {
    ObjectNode body = JSON.createObjectNode();
    body.put("failurePolicy", "continue");
    ArrayNode tasks = body.putArray("tasks");
    tasks.add(task("bad", "throw new Error('boom')"));
    tasks.add(task("after_bad", "1", "bad"));
    tasks.add(task("good", "2"));
    tasks.add(task("after_good", "input.good + 1", "good"));
    JsonNode dag =
        node().awaitDagEnd(schedule(node(), "/api/dag/schedule", body), Duration.ofSeconds(120));
    assertEquals("Failed", dag.path("status").asText(), dag.toString());
    assertEquals("Failed", nodeOf(dag, "bad").path("status").asText());
    assertTrue(nodeOf(dag, "bad").path("error").asText().contains("boom"), dag.toString());
    assertEquals("Skipped", nodeOf(dag, "after_bad").path("status").asText());
    assertEquals(3, nodeOf(dag, "after_good").path("result").asInt(), dag.toString());
  }

  @Test
  void cancelStopsARunningDag() throws Exception {
    ObjectNode body = JSON.createObjectNode();
    ArrayNode tasks = body.putArray("tasks");
    tasks.add(task("slow", BUSY.formatted(20_000) + "1"));
    tasks.add(task("next", "2", "slow"));
    String id = schedule(node(), "/api/dag/schedule", body);
    HttpResponse<String> r = node().delete("/api/dag/" + id);
    assertEquals(200, r.statusCode(), r.body());
    JsonNode dag = JSON.readTree(r.body());
    assertEquals("Cancelled", dag.path("status").asText(), r.body());
    assertEquals("Cancelled", nodeOf(dag, "next").path("status").asText());
    JsonNode task = node().awaitEnd("dag-" + id + ".slow", Duration.ofSeconds(60));
    assertEquals("Cancelled", task.path("status").asText(), task.toString());
    HttpResponse<String> again = node().delete("/api/dag/" + id);
    assertEquals(409, again.statusCode(), again.body());
  }

  @Test
  void aThousandNodeFanOutFanInCompletes() throws Exception {
    int width = 998;
    ObjectNode body = JSON.createObjectNode();
    body.put("name", "fan");
    body.put("input", 1);
    ArrayNode tasks = body.putArray("tasks");
    tasks.add(task("root", "input"));
    String[] middle = new String[width];
    for (int i = 0; i < width; i++) {
      middle[i] = "m" + i;
      tasks.add(task(middle[i], "input.root + " + i, "root"));
    }
    tasks.add(task("sink", "Object.values(input).reduce((a, b) => a + b, 0)", middle));
    String id = schedule(node(), "/api/dag/schedule", body);
    JsonNode dag = node().awaitDagEnd(id, Duration.ofMinutes(8));
    assertEquals("Completed", dag.path("status").asText(), summary(dag));
    assertEquals(1000, dag.path("completed").asInt());
    long expected = width + (long) width * (width - 1) / 2; // sum of (1 + i)
    assertEquals(expected, dag.path("result").asLong(), summary(dag));
  }

  @Test
  void mapReduceWordCountEqualsTheSingleTaskAnswer() throws Exception {
    String[] words = {
      "anchor", "dag", "map", "reduce", "pekko", "mongo", "redis", "stream", "node", "task"
    };
    ArrayNode lines = JSON.createArrayNode();
    for (int i = 0; i < 10_000; i++) {
      lines.add(
          words[i % 10] + " " + words[(i * 7) % 10] + " " + words[(i * i) % 10] + " w" + (i % 37));
    }
    String count =
        "const c = {}; for (const line of input) for (const w of line.split(' ')) c[w] = (c[w] || 0) + 1; c";
    String merge =
        "const t = {}; for (const part of input) for (const [w, n] of Object.entries(part)) t[w] = (t[w] || 0) + n; t";

    ObjectNode single = JSON.createObjectNode();
    single.set("payload", js(count));
    single.set("input", lines);
    HttpResponse<String> r = node().post("/api/tasks", single.toString());
    assertEquals(201, r.statusCode(), r.body());
    JsonNode expected =
        node()
            .awaitStatus(
                JSON.readTree(r.body()).path("taskId").asText(),
                "Completed",
                Duration.ofSeconds(120))
            .path("result");

    ObjectNode body = JSON.createObjectNode();
    body.put("name", "wordcount");
    body.set("input", lines);
    body.put("partitions", 8);
    body.set("map", js(count));
    body.set("reduce", js(merge));
    body.putObject("retries").put("attempts", 3).put("backoffMs", 200);
    JsonNode dag =
        node().awaitDagEnd(schedule(node(), "/api/mapreduce", body), Duration.ofSeconds(180));
    assertEquals("Completed", dag.path("status").asText(), summary(dag));
    assertEquals(9, dag.path("total").asInt());
    assertEquals(expected, dag.path("result"));
    assertEquals(40_000, sum(dag.path("result")));
    // 10,000 lines in 8 partitions: 1,250 lines of 4 words each
    assertEquals(5_000, sum(nodeOf(dag, "map-0").path("result")), nodeOf(dag, "map-0").toString());
  }

  static long sum(JsonNode counts) {
    long s = 0;
    for (JsonNode n : counts) s += n.asLong();
    return s;
  }

  @TempDir Path crashTmp;

  @Test
  void aDagGoesOnAfterItsNodeIsKilledWithMinus9AndNoNodeCompletesTwice() throws Exception {
    Path data = crashTmp.resolve("data");
    int port = AnchorProcess.freePort();
    int length = 12;
    ObjectNode body = JSON.createObjectNode();
    body.put("input", 0);
    ArrayNode tasks = body.putArray("tasks");
    tasks.add(task("s0", BUSY.formatted(700) + "input + 1"));
    for (int i = 1; i < length; i++)
      tasks.add(task("s" + i, BUSY.formatted(700) + "input.s" + (i - 1) + " + 1", "s" + (i - 1)));
    String id;
    Map<String, Long> completedBefore = new HashMap<>();
    try (AnchorProcess first = AnchorProcess.start("standalone", data, port, Map.of())) {
      ApiClient api = first.awaitHealthy(Duration.ofSeconds(150)).api();
      String dagId = schedule(api, "/api/dag/schedule", body);
      id = dagId;
      JsonNode dag =
          Poll.until(
              "3 steps of DAG " + id + " completed",
              Duration.ofSeconds(120),
              () -> ApiClient.json(api.get("/api/dag/" + dagId)),
              d -> d.path("completed").asInt() >= 3);
      assertEquals("Running", dag.path("status").asText(), summary(dag));
      first.kill9();
      for (JsonNode n : dag.path("nodes")) {
        if (n.path("status").asText().equals("Completed"))
          completedBefore.put(n.path("id").asText(), n.path("completedAt").asLong());
      }
    }
    try (AnchorProcess second = AnchorProcess.start("standalone", data, port, Map.of())) {
      ApiClient api = second.awaitHealthy(Duration.ofSeconds(150)).api();
      JsonNode dag = api.awaitDagEnd(id, Duration.ofSeconds(180));
      assertEquals("Completed", dag.path("status").asText(), dag.toString());
      assertEquals(length, dag.path("result").asInt(), dag.toString());
      for (var e : completedBefore.entrySet()) {
        assertEquals(
            e.getValue(),
            nodeOf(dag, e.getKey()).path("completedAt").asLong(),
            "node " + e.getKey() + " completed before the crash and was not run again");
      }
      for (int i = 0; i < length; i++) {
        JsonNode t = api.task("dag-" + id + ".s" + i);
        assertEquals("Completed", t.path("status").asText(), t.toString());
        assertEquals(i + 1, t.path("result").asInt(), t.toString());
        List<String> ends = new ArrayList<>();
        for (JsonNode h : t.path("history"))
          if (h.path("event").asText().equals("Completed")) ends.add(h.toString());
        assertEquals(1, ends.size(), "node s" + i + " completed once: " + t.path("history"));
      }
    }
  }

  @Test
  void onACoordinatorWithTwoWorkersParallelNodesSpreadOverBothWorkers() throws Exception {
    try (AnchorCluster cluster =
        AnchorCluster.coordinator()
            .workers("w1", "w2")
            .workerEnv("ANCHOR_WORKER_CAPACITY", "3")
            .start()) {
      ApiClient coordinator = cluster.api();
      int width = 12;
      ObjectNode body = JSON.createObjectNode();
      body.put("input", 100);
      ArrayNode tasks = body.putArray("tasks");
      tasks.add(task("root", "input"));
      String[] mid = new String[width];
      for (int i = 0; i < width; i++) {
        mid[i] = "m" + i;
        tasks.add(task(mid[i], BUSY.formatted(400) + "input.root + " + i, "root"));
      }
      tasks.add(task("sink", "Object.values(input).reduce((a, b) => a + b, 0)", mid));
      String id = schedule(coordinator, "/api/dag/schedule", body);
      JsonNode dag = coordinator.awaitDagEnd(id, Duration.ofSeconds(180));
      assertEquals("Completed", dag.path("status").asText(), dag.toString());
      assertEquals(
          width * 100 + width * (width - 1) / 2, dag.path("result").asInt(), dag.toString());
      Set<String> ranOn = new HashSet<>();
      for (String m : mid) {
        JsonNode t = coordinator.task("dag-" + id + "." + m);
        ranOn.add(t.path("nodeId").asText());
      }
      assertEquals(2, ranOn.size(), "parallel nodes ran on both workers: " + ranOn);
    }
  }
}
