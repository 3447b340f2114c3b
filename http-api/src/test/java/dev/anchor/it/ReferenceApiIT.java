package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a user of the reference system points at Anchor, on one standalone started with the
 * reference's PORT: the README's request bodies as they are, the reference shapes of
 * /api/queue/stats and /api/nodes, and the stats counts of a known workload, before and after a
 * restart.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
class ReferenceApiIT {
  static final ObjectMapper JSON = ApiClient.JSON;
  static final int PORT = AnchorProcess.reservePort();
  static final int MANAGEMENT_PORT = AnchorProcess.reservePort();

  // the reference system's PORT, with ANCHOR_PORT empty (= unset), and the same node name after
  // the restart, so the workload stays what it was
  @RegisterExtension
  static final AnchorCluster standalone =
      AnchorCluster.standalone()
          .httpPort(PORT)
          .env("ANCHOR_PORT", "")
          .env("PORT", Integer.toString(PORT))
          .env("ANCHOR_NODE_NAME", "reference-node")
          .env("ANCHOR_MANAGEMENT_PORT", Integer.toString(MANAGEMENT_PORT));

  static ApiClient api() {
    return standalone.api();
  }

  static JsonNode body(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  static String submit(String json) throws Exception {
    HttpResponse<String> r = api().post("/api/tasks", json);
    assertEquals(201, r.statusCode(), r.body());
    assertEquals("Queued", body(r).path("status").asText());
    return body(r).path("taskId").asText();
  }

  /** Polls GET {@code path} until its JSON satisfies {@code done}. */
  static JsonNode await(String what, Duration timeout, String path, Predicate<JsonNode> done)
      throws Exception {
    return Poll.until(what, timeout, Duration.ofMillis(200), () -> body(api().get(path)), done);
  }

  static JsonNode status(String taskId, String... wanted) throws Exception {
    return await(
        taskId + " to be " + String.join("/", wanted),
        Duration.ofSeconds(60),
        "/api/tasks/" + taskId,
        t -> List.of(wanted).contains(t.path("status").asText()));
  }

  static final Map<String, Long> before = new HashMap<>();
  static JsonNode statsBefore;

  @Test
  @Order(1)
  void aKnownWorkloadIsCountedInTheReferenceShape() throws Exception {
    // the README's task body (runtime js: this machine may have no npm for the reference's native
    // lodash example)
    String ok =
        """
        {"name":"Prime Finder","type":"script",
         "payload":{"sourceCode":"let c=0; for (let i=2;i<=input.n;i++){let p=true; for(let j=2;j*j<=i;j++) if(i%j==0){p=false;break} if(p)c++} c","dependencies":[],"runtime":"js"},
         "requirements":{"minRam":0,"gpuRequired":false},
         "input":{"n":1000}, "timeoutMs":30000, "retries":{"attempts":3,"backoffMs":2000}, "priority":0}""";
    List<String> oks = List.of(submit(ok), submit(ok), submit(ok));
    String bad =
        submit("{\"name\":\"boom\",\"payload\":{\"sourceCode\":\"throw new Error('no')\"}}");
    // two replicas never fit on one node: this verified task waits
    String verified =
        submit("{\"payload\":{\"sourceCode\":\"1\"},\"verification\":{\"replicas\":2}}");
    // the reference DAG body verbatim: no payloads, each node a pass-through step
    HttpResponse<String> d =
        api()
            .post(
                "/api/dag/schedule",
                """
        {"tasks":[{"id":"fetch","type":"script","dependencies":[]},
                  {"id":"process_1","type":"parallel","dependencies":["fetch"]},
                  {"id":"process_2","type":"parallel","dependencies":["fetch"]},
                  {"id":"aggregate","type":"script","dependencies":["process_1","process_2"]}]}""");
    assertEquals(201, d.statusCode(), d.body());
    String dagId = body(d).path("dagId").asText();

    for (String id : oks) assertEquals(168, status(id, "Completed").path("result").asInt());
    assertEquals("Failed", status(bad, "Completed", "Failed").path("status").asText());
    JsonNode dag =
        await(
            "the DAG to complete",
            Duration.ofSeconds(30),
            "/api/dag/" + dagId,
            v -> "Completed".equals(v.path("status").asText()));
    for (JsonNode n : dag.path("nodes")) {
      assertEquals(
          n.path("id").asText().startsWith("process") ? "parallel" : "script",
          n.path("type").asText(),
          dag.toString());
      assertTrue(n.path("taskId").isNull(), dag.toString());
    }
    // pass-through results are their inputs: aggregate's is {process_1:{fetch:null},
    // process_2:{fetch:null}}
    assertEquals(
        JSON.readTree("{\"process_1\":{\"fetch\":null},\"process_2\":{\"fetch\":null}}"),
        dag.path("result"));
    assertEquals("Queued", body(api().get("/api/tasks/" + verified)).path("status").asText());

    JsonNode stats =
        await(
            "the counts to settle",
            Duration.ofSeconds(20),
            "/api/queue/stats",
            s ->
                s.path("tasks").path("completed").asLong() == 3
                    && s.path("dag").path("completed").asLong() == 1);
    assertEquals(
        JSON.readTree(
            "{\"waiting\":1,\"active\":0,\"completed\":3,\"failed\":1,\"delayed\":0,\"cancelled\":0}"),
        stats.path("tasks"),
        stats.toString());
    assertEquals(
        JSON.readTree("{\"waiting\":0,\"active\":0,\"completed\":1,\"failed\":0,\"cancelled\":0}"),
        stats.path("dag"),
        stats.toString());
    assertEquals(
        JSON.readTree("{\"waiting\":1,\"active\":0,\"completed\":0,\"failed\":0}"),
        stats.path("consensus"),
        stats.toString());
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
    JsonNode nodes = api().nodes();
    JsonNode metrics = nodes.get(0).path("metrics");
    assertTrue(metrics.path("hasDocker").isBoolean(), nodes.toString());
    assertEquals(
        Files.exists(Path.of("/var/run/docker.sock")) && System.getenv("DOCKER_HOST") == null
            ? metrics.path("hasDocker").asBoolean()
            : false,
        metrics.path("hasDocker").asBoolean(),
        nodes.toString());
  }

  @Test
  @Order(3)
  void metricsOnTheApiAndTheManagementPortParseAsPrometheusText() throws Exception {
    dev.anchor.ops.PrometheusText.assumeParser();
    HttpResponse<String> api = api().get("/metrics");
    assertEquals(200, api.statusCode(), api.body());
    assertTrue(
        api.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"),
        api.headers().toString());
    Map<String, Object> m = dev.anchor.ops.PrometheusText.parse(api.body());
    // five js tasks accepted: three primes, the failing one and the verified one
    assertEquals(5.0, m.get("anchor_tasks_submitted_total{runtime=\"js\"}"));
    assertEquals(3.0, m.get("anchor_tasks_completed_total{runtime=\"js\"}"));
    assertEquals(1.0, m.get("anchor_tasks_failed_total{runtime=\"js\"}"));
    assertEquals(3.0, m.get("anchor_tasks{kind=\"task\",state=\"Completed\"}"));
    assertEquals(1.0, m.get("anchor_dags{state=\"Completed\"}"));
    assertEquals(4.0, m.get("anchor_node_capacity{node=\"reference-node\"}"));
    assertTrue(
        m.containsKey(
            "anchor_queue_jobs{band=\"normal\",node=\"reference-node\",state=\"waiting\"}"));
    assertTrue((Double) m.get("anchor_task_queue_seconds_count{runtime=\"js\"}") >= 4);
    assertTrue((Double) m.get("anchor_journal_batch_events_count") >= 1);
    // the three primes, and the verified task's one replica that fits on this node
    assertTrue(
        (Double) m.get("anchor_sandbox_outcomes_total{outcome=\"success\",runtime=\"js\"}") >= 3);
    assertEquals(
        1.0, m.get("anchor_sandbox_outcomes_total{outcome=\"CODE_ERROR\",runtime=\"js\"}"));
    assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("jvm_gc_collection_seconds_count")));
    // every Anchor series the Grafana dashboard in ops/ queries is exported
    String dashboard =
        Files.readString(AnchorProcess.HOME.resolve("ops/grafana/anchor-dashboard.json"));
    java.util.regex.Matcher names =
        java.util.regex.Pattern.compile("anchor_[a-z_]+").matcher(dashboard);
    while (names.find()) {
      String name = names.group();
      if (name.equals("anchor_overview")) continue; // the dashboard's uid
      assertTrue(
          m.keySet().stream().anyMatch(k -> k.startsWith(name)), "the dashboard queries " + name);
    }
    // the management port: the same registry, no token (loopback, read-only)
    HttpResponse<String> mgmt =
        ApiClient.anonymous("http://127.0.0.1:" + MANAGEMENT_PORT).get("/metrics");
    assertEquals(200, mgmt.statusCode(), mgmt.body());
    assertEquals(
        5.0,
        dev.anchor.ops.PrometheusText.parse(mgmt.body())
            .get("anchor_tasks_submitted_total{runtime=\"js\"}"));
    // and without a token the API port refuses
    assertEquals(401, api().withoutToken().get("/metrics").statusCode());
  }

  /** What one run of the launcher's client did. */
  record Cli(int exit, String out, String err) {}

  static Cli cli(Map<String, String> extraEnv, String... args) throws Exception {
    List<String> cmd =
        new java.util.ArrayList<>(List.of("bash", AnchorProcess.HOME.resolve("anchor").toString()));
    cmd.addAll(List.of(args));
    Path dir = standalone.dir();
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
    pb.environment().put("ANCHOR_SKIP_BUILD", "1");
    pb.environment().put("ANCHOR_SERVER", "http://127.0.0.1:" + PORT);
    pb.environment().put("ANCHOR_TOKEN", AnchorProcess.TOKEN);
    pb.environment().putAll(extraEnv);
    Path out = Files.createTempFile(dir, "cli", ".out"),
        err = Files.createTempFile(dir, "cli", ".err");
    Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertTrue(
        p.waitFor(90, TimeUnit.SECONDS), "the client did not end: " + String.join(" ", args));
    return new Cli(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  static Cli cli(String... args) throws Exception {
    return cli(Map.of(), args);
  }

  @Test
  @Order(4)
  void theCommandLineClient() throws Exception {
    Path dir = standalone.dir();
    Path task = dir.resolve("task.json");
    Files.writeString(
        task,
        "{\"name\":\"cli\",\"payload\":{\"sourceCode\":\"console.log('hi ' + input.n); input.n * 2\"},\"input\":{\"n\":21}}");
    // a relative file operand is read from where the client was called (its process runs in dir)
    Cli done = cli("submit", "task.json", "--wait");
    assertEquals(0, done.exit(), done.toString());
    assertEquals("42", done.out().strip(), done.toString());
    assertTrue(done.err().contains("Completed"), done.toString());

    Cli submitted = cli("submit", task.toString(), "--json");
    assertEquals(0, submitted.exit(), submitted.toString());
    String id = JSON.readTree(submitted.out()).path("taskId").asText();
    status(id, "Completed");
    Cli st = cli("status", id, "--json");
    assertEquals("Completed", JSON.readTree(st.out()).path("status").asText(), st.toString());
    assertTrue(cli("status", id).out().contains("result    42"));
    Cli logs = cli("logs", id, "--follow");
    assertEquals(0, logs.exit(), logs.toString());
    assertEquals("hi 21", logs.out().strip(), logs.toString());

    Path failing = dir.resolve("fail.json");
    Files.writeString(failing, "{\"payload\":{\"sourceCode\":\"throw new Error('nope')\"}}");
    Cli failed = cli("submit", failing.toString(), "--wait");
    assertEquals(1, failed.exit(), failed.toString());
    assertTrue(failed.err().contains("failed") && failed.err().contains("nope"), failed.toString());

    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{\"payload\":{\"sourceCode\":\"1\",\"runtime\":\"cobol\"}}");
    Cli refused = cli("submit", bad.toString());
    assertEquals(4, refused.exit(), refused.toString());
    assertEquals(1, refused.err().strip().lines().count(), refused.toString());
    assertTrue(refused.err().startsWith("anchor: 400 payload.runtime: "), refused.toString());

    Path dag = dir.resolve("dag.json");
    Files.writeString(
        dag,
        """
        {"input":{"n":3},"tasks":[{"id":"a","payload":{"sourceCode":"input.n + 1"}},
          {"id":"b","type":"parallel","dependencies":["a"]},
          {"id":"c","dependencies":["b"],"payload":{"sourceCode":"input.b.a * 10"}}]}""");
    Cli d = cli("dag", dag.toString(), "--wait");
    assertEquals(0, d.exit(), d.toString());
    assertEquals("40", d.out().strip(), d.toString());
    assertTrue(d.err().contains("3/3 completed"), d.toString());

    Cli nodes = cli("nodes");
    assertEquals(0, nodes.exit(), nodes.toString());
    assertTrue(nodes.out().contains("reference-node"), nodes.toString());
    Cli stats = cli("stats", "--json");
    assertTrue(
        JSON.readTree(stats.out()).path("tasks").path("completed").asLong() >= 5, stats.toString());

    // the verified task still waits: cancel it
    String waiting =
        submit("{\"payload\":{\"sourceCode\":\"1\"},\"verification\":{\"replicas\":2}}");
    Cli cancel = cli("cancel", waiting);
    assertEquals(0, cancel.exit(), cancel.toString());
    assertTrue(cancel.out().contains("Cancelled"), cancel.toString());

    Cli unreachable =
        cli(Map.of("ANCHOR_SERVER", "http://127.0.0.1:" + AnchorProcess.freePort()), "stats");
    assertEquals(3, unreachable.exit(), unreachable.toString());
    assertTrue(
        unreachable.err().startsWith("anchor: cannot reach http://127.0.0.1:"),
        unreachable.toString());
    Cli noToken = cli(Map.of("ANCHOR_TOKEN", "not-a-token"), "stats");
    assertEquals(4, noToken.exit(), noToken.toString());
    assertTrue(noToken.err().startsWith("anchor: 401 Authorization: "), noToken.toString());
    Cli usage = cli("status");
    assertEquals(2, usage.exit(), usage.toString());
  }

  @Test
  @Order(5)
  void everyDocumentedOperationAnswersAndTheDocsPageIsServed() throws Exception {
    ApiClient open = api().withoutToken();
    HttpResponse<String> d = open.get("/api/openapi.json"); // open: no token
    assertEquals(200, d.statusCode(), d.body());
    JsonNode doc = JSON.readTree(d.body());
    assertEquals("3.1.0", doc.path("openapi").asText());
    List<String> silent = new java.util.ArrayList<>();
    int checked = 0;
    for (var p = doc.path("paths").fields(); p.hasNext(); ) {
      var path = p.next();
      for (var m = path.getValue().fieldNames(); m.hasNext(); ) {
        String method = m.next().toUpperCase(java.util.Locale.ROOT);
        String sample = path.getKey().replaceAll("\\{[^}]+}", "x1");
        var req =
            api()
                .request(sample)
                .header("Content-Type", "application/json")
                .method(
                    method,
                    method.equals("POST")
                        ? HttpRequest.BodyPublishers.ofString("{}")
                        : HttpRequest.BodyPublishers.noBody())
                .build();
        // headers only: event streams stay open
        HttpResponse<java.io.InputStream> r = api().stream(req);
        String body;
        try (java.io.InputStream in = r.body()) {
          body =
              r.headers().firstValue("Content-Type").orElse("").contains("event-stream")
                  ? ""
                  : new String(in.readNBytes(2000), java.nio.charset.StandardCharsets.UTF_8);
        }
        checked++;
        // the router's own answers when no route matches: 405, or 404 "The requested resource could
        // not be found."
        if (r.statusCode() == 405
            || (r.statusCode() == 404 && body.contains("could not be found"))) {
          silent.add(method + " " + sample + " -> " + r.statusCode() + " " + body);
        }
      }
    }
    assertTrue(checked > 40, "only " + checked + " operations");
    assertEquals(List.of(), silent, "documented but not answered");
    HttpResponse<String> page = open.get("/api/docs");
    assertEquals(200, page.statusCode());
    assertTrue(page.body().contains("swagger-ui-bundle.js"), page.body());
    for (String f :
        List.of(
            "/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css", "/api/docs/init.js")) {
      HttpResponse<String> r = open.get(f);
      assertEquals(200, r.statusCode(), f);
      assertTrue(r.body().length() > 0, f);
    }
  }

  @Test
  @Order(100)
  void theCountsAreTheSameAfterARestart() throws Exception {
    JsonNode stats = body(api().get("/api/queue/stats"));
    AnchorProcess node = standalone.restart();
    JsonNode after = body(node.api().get("/api/queue/stats"));
    for (String k : List.of("tasks", "dag", "consensus"))
      assertEquals(stats.path(k), after.path(k), after.toString());
    assertFalse(
        node.output().contains("queue statistics rebuilt"), "the counters were kept, not rebuilt");
  }
}
