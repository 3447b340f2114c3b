package dev.anchor.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a user of the reference system points at Anchor, on one standalone started with the reference's PORT: the
 * README's request bodies as they are, the reference shapes of /api/queue/stats and /api/nodes, and the stats counts
 * of a known workload, before and after a restart.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
class ReferenceApiIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static Path dir;
  static AnchorProcess node;
  static int port;
  static Map<String, String> env;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("anchor-reference-it");
    port = AnchorProcess.freePort();
    // the reference system's PORT, with ANCHOR_PORT empty (= unset)
    // and the same node name after the restart, so the workload stays what it was
    env = Map.of("ANCHOR_PORT", "", "PORT", Integer.toString(port), "ANCHOR_NODE_NAME", "reference-node");
    node = AnchorProcess.start("standalone", dir.resolve("data"), port, env);
    node.awaitHealthy(Duration.ofSeconds(150));
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) node.close();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }

  static JsonNode body(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  static String submit(String json) throws Exception {
    HttpResponse<String> r = node.post("/api/tasks", json);
    assertEquals(201, r.statusCode(), r.body());
    assertEquals("Queued", body(r).path("status").asText());
    return body(r).path("taskId").asText();
  }

  static <T> T await(String what, Duration timeout, Callable<T> probe) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    AssertionError last = null;
    while (System.nanoTime() < deadline) {
      try {
        T v = probe.call();
        if (v != null) return v;
      } catch (AssertionError e) {
        last = e;
      }
      TimeUnit.MILLISECONDS.sleep(200);
    }
    throw new AssertionError("timed out waiting for " + what + (last == null ? "" : ": " + last.getMessage()));
  }

  static JsonNode status(String taskId, String... wanted) throws Exception {
    return await(taskId + " to be " + String.join("/", wanted), Duration.ofSeconds(60), () -> {
      JsonNode t = body(node.get("/api/tasks/" + taskId));
      return List.of(wanted).contains(t.path("status").asText()) ? t : null;
    });
  }

  static final Map<String, Long> before = new HashMap<>();
  static JsonNode statsBefore;

  @Test
  @Order(1)
  void aKnownWorkloadIsCountedInTheReferenceShape() throws Exception {
    // the README's task body (runtime js: this machine may have no npm for the reference's native lodash example)
    String ok = """
        {"name":"Prime Finder","type":"script",
         "payload":{"sourceCode":"let c=0; for (let i=2;i<=input.n;i++){let p=true; for(let j=2;j*j<=i;j++) if(i%j==0){p=false;break} if(p)c++} c","dependencies":[],"runtime":"js"},
         "requirements":{"minRam":0,"gpuRequired":false},
         "input":{"n":1000}, "timeoutMs":30000, "retries":{"attempts":3,"backoffMs":2000}, "priority":0}""";
    List<String> oks = List.of(submit(ok), submit(ok), submit(ok));
    String bad = submit("{\"name\":\"boom\",\"payload\":{\"sourceCode\":\"throw new Error('no')\"}}");
    // two replicas never fit on one node: this verified task waits
    String verified = submit("{\"payload\":{\"sourceCode\":\"1\"},\"verification\":{\"replicas\":2}}");
    // the reference DAG body verbatim: no payloads, each node a pass-through step
    HttpResponse<String> d = node.post("/api/dag/schedule", """
        {"tasks":[{"id":"fetch","type":"script","dependencies":[]},
                  {"id":"process_1","type":"parallel","dependencies":["fetch"]},
                  {"id":"process_2","type":"parallel","dependencies":["fetch"]},
                  {"id":"aggregate","type":"script","dependencies":["process_1","process_2"]}]}""");
    assertEquals(201, d.statusCode(), d.body());
    String dagId = body(d).path("dagId").asText();

    for (String id : oks) assertEquals(168, status(id, "Completed").path("result").asInt());
    assertEquals("Failed", status(bad, "Completed", "Failed").path("status").asText());
    JsonNode dag = await("the DAG to complete", Duration.ofSeconds(30), () -> {
      JsonNode v = body(node.get("/api/dag/" + dagId));
      return "Completed".equals(v.path("status").asText()) ? v : null;
    });
    for (JsonNode n : dag.path("nodes")) {
      assertEquals(n.path("id").asText().startsWith("process") ? "parallel" : "script", n.path("type").asText(), dag.toString());
      assertTrue(n.path("taskId").isNull(), dag.toString());
    }
    // pass-through results are their inputs: aggregate's is {process_1:{fetch:null}, process_2:{fetch:null}}
    assertEquals(JSON.readTree("{\"process_1\":{\"fetch\":null},\"process_2\":{\"fetch\":null}}"), dag.path("result"));
    assertEquals("Queued", body(node.get("/api/tasks/" + verified)).path("status").asText());

    JsonNode stats = await("the counts to settle", Duration.ofSeconds(20), () -> {
      JsonNode s = body(node.get("/api/queue/stats"));
      return s.path("tasks").path("completed").asLong() == 3 && s.path("dag").path("completed").asLong() == 1 ? s : null;
    });
    assertEquals(JSON.readTree("{\"waiting\":1,\"active\":0,\"completed\":3,\"failed\":1,\"delayed\":0,\"cancelled\":0}"),
        stats.path("tasks"), stats.toString());
    assertEquals(JSON.readTree("{\"waiting\":0,\"active\":0,\"completed\":1,\"failed\":0,\"cancelled\":0}"),
        stats.path("dag"), stats.toString());
    assertEquals(JSON.readTree("{\"waiting\":1,\"active\":0,\"completed\":0,\"failed\":0}"),
        stats.path("consensus"), stats.toString());
    // the per-node breakdown beside them: this node ran the three and the failed one
    JsonNode queues = stats.path("queues");
    assertEquals(1, queues.size(), stats.toString());
    JsonNode mine = queues.elements().next();
    assertEquals(3, mine.path("completed").asLong(), stats.toString());
    assertEquals(1, mine.path("failed").asLong(), stats.toString());
    assertEquals(3, stats.path("total").path("completed").asLong());
    statsBefore = stats;
  }

  @Test
  @Order(2)
  void nodesReportDocker() throws Exception {
    JsonNode nodes = body(node.get("/api/nodes"));
    JsonNode metrics = nodes.get(0).path("metrics");
    assertTrue(metrics.path("hasDocker").isBoolean(), nodes.toString());
    assertEquals(Files.exists(Path.of("/var/run/docker.sock")) && System.getenv("DOCKER_HOST") == null
        ? metrics.path("hasDocker").asBoolean() : false, metrics.path("hasDocker").asBoolean(), nodes.toString());
  }

  @Test
  @Order(100)
  void theCountsAreTheSameAfterARestart() throws Exception {
    JsonNode stats = body(node.get("/api/queue/stats"));
    node.close();
    node = AnchorProcess.start("standalone", dir.resolve("data"), port, env);
    node.awaitHealthy(Duration.ofSeconds(150));
    JsonNode after = body(node.get("/api/queue/stats"));
    for (String k : List.of("tasks", "dag", "consensus")) assertEquals(stats.path(k), after.path(k), after.toString());
    assertFalse(node.output().contains("queue statistics rebuilt"), "the counters were kept, not rebuilt");
  }
}
