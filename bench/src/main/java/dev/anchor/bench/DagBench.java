package dev.anchor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.anchor.it.AnchorProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * DAG scheduling overhead against a standalone node started through ./anchor: a fan-out/fan-in DAG
 * of empty JS tasks (root, N-2 parallel nodes, one sink) and a chain of empty JS tasks, each timed
 * from the DAG's journaled submit to its end (submittedAt/completedAt of GET /api/dag/{id}).
 *
 * <p>Usage: {@code ./anchor bench dag [nodes=1000] [chain=100] [capacity=8] [warmup=20000]}: before
 * measuring, the node runs {@code warmup} JS tasks in bulk and one DAG of each shape, so the
 * figures are a warm node's (as {@code bench queue}'s are): a cold node's JS children cost several
 * times more per task for the first few thousand.
 */
public final class DagBench {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new java.util.HashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      if (kv.length == 2) opt.put(kv[0], kv[1]);
    }
    int nodes = Integer.parseInt(opt.getOrDefault("nodes", "1000"));
    int chain = Integer.parseInt(opt.getOrDefault("chain", "100"));
    Path dir = Files.createTempDirectory("anchor-dag-bench");
    AnchorProcess node =
        QueueBench.start(
            "standalone",
            dir.resolve("data"),
            Map.of(
                "ANCHOR_WORKER_CAPACITY",
                opt.getOrDefault("capacity", "8"),
                "ANCHOR_LOG_LEVEL",
                "WARN"));
    String base = node.url("");
    try {
      node.awaitHealthy(QueueBench.STARTUP);
      int warmup = Integer.parseInt(opt.getOrDefault("warmup", "20000"));
      if (warmup > 0)
        QueueBench.runBulk(base, warmup, 500, 1); // QueueBench.NOOP: the same empty JS task
      run(base, fanOut(Math.max(50, nodes / 2)));
      run(base, chain(Math.max(10, chain / 2)));
      System.out.printf(
          "# load average before measuring: %s%n",
          Files.readString(Path.of("/proc/loadavg")).trim());

      long fan = run(base, fanOut(nodes));
      System.out.printf(
          "RESULT scenario=dag-fanout nodes=%d ms=%d per_node_ms=%.2f%n",
          nodes, fan, fan / (double) nodes);
      long hops = run(base, chain(chain));
      System.out.printf(
          "RESULT scenario=dag-chain nodes=%d ms=%d per_hop_ms=%.2f%n",
          chain, hops, hops / (double) chain);
      System.out.printf(
          "# load average at end: %s%n", Files.readString(Path.of("/proc/loadavg")).trim());
    } finally {
      node.close();
      QueueBench.deleteTree(dir);
    }
  }

  static ObjectNode task(String id, String... deps) {
    ObjectNode t = JSON.createObjectNode();
    t.put("id", id);
    ArrayNode d = t.putArray("dependencies");
    for (String dep : deps) d.add(dep);
    t.putObject("payload").put("runtime", "js").put("sourceCode", "0");
    return t;
  }

  static ObjectNode fanOut(int n) {
    ObjectNode body = JSON.createObjectNode();
    ArrayNode tasks = body.putArray("tasks");
    tasks.add(task("root"));
    String[] mid = new String[n - 2];
    for (int i = 0; i < mid.length; i++) {
      mid[i] = "m" + i;
      tasks.add(task(mid[i], "root"));
    }
    tasks.add(task("sink", mid));
    return body;
  }

  static ObjectNode chain(int n) {
    ObjectNode body = JSON.createObjectNode();
    ArrayNode tasks = body.putArray("tasks");
    tasks.add(task("c0"));
    for (int i = 1; i < n; i++) tasks.add(task("c" + i, "c" + (i - 1)));
    return body;
  }

  /** Schedules the DAG and waits for it to complete; its journaled duration in ms. */
  static long run(String base, ObjectNode body) throws Exception {
    HttpResponse<String> r =
        HTTP.send(
            AnchorProcess.authorized(URI.create(base + "/api/dag/schedule"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 201)
      throw new IllegalStateException("schedule answered " + r.statusCode() + ": " + r.body());
    String id = JSON.readTree(r.body()).path("dagId").asText();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (System.nanoTime() < deadline) {
      JsonNode dag =
          JSON.readTree(
              HTTP.send(
                      AnchorProcess.authorized(URI.create(base + "/api/dag/" + id)).build(),
                      HttpResponse.BodyHandlers.ofString())
                  .body());
      String status = dag.path("status").asText();
      if (status.equals("Completed")) return dag.path("durationMs").asLong();
      if (status.equals("Failed") || status.equals("Cancelled"))
        throw new IllegalStateException("DAG ended " + status);
      TimeUnit.MILLISECONDS.sleep(100);
    }
    throw new IllegalStateException("DAG " + id + " did not complete in 10 minutes");
  }
}
