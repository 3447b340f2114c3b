package dev.anchor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import dev.anchor.queue.EmbeddedRedis;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * What verification costs: a coordinator and three workers started through ./anchor (a redis-server
 * and an in-memory MongoDB-wire server run here), the same WASM task submitted N times without
 * verification and N times with {@code replicas:3, quorum:2}. Prints throughput and
 * submit→completed latency (journal timestamps) for both.
 *
 * <p>Usage: {@code ./anchor bench consensus [tasks=200] [concurrency=16]}
 */
public final class ConsensusBench {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final String ADD = "AGFzbQEAAAABBwFgAn9/AX8DAgEABwcBA2FkZAAACgkBBwAgACABags=";

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      if (kv.length == 2) opt.put(kv[0], kv[1]);
    }
    int tasks = Integer.parseInt(opt.getOrDefault("tasks", "200"));
    int concurrency = Integer.parseInt(opt.getOrDefault("concurrency", "16"));
    Path home = Path.of(System.getProperty("anchor.home", ".")).toAbsolutePath();
    Path dir = Files.createTempDirectory("anchor-consensus-bench");
    List<Process> processes = new ArrayList<>();
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir.resolve("redis"));
        EmbeddedMongoServer mongo = EmbeddedMongoServer.inMemory()) {
      int cluster = QueueBench.freePort();
      int http = QueueBench.freePort();
      Map<String, String> env =
          new HashMap<>(
              Map.of(
                  "ANCHOR_MONGO_URI",
                  mongo.connectionString(),
                  "ANCHOR_REDIS_URI",
                  redis.uri(),
                  "ANCHOR_SEED_NODES",
                  "127.0.0.1:" + cluster,
                  "ANCHOR_SPOT_CHECK_FRACTION",
                  "0",
                  "ANCHOR_LOG_LEVEL",
                  "WARN",
                  "ANCHOR_MANAGEMENT",
                  "off",
                  "ANCHOR_JS_WORKERS",
                  "1"));
      Map<String, String> c = new HashMap<>(env);
      c.put("ANCHOR_CLUSTER_PORT", Integer.toString(cluster));
      processes.add(start(home, dir, "coordinator", "coordinator", http, c));
      String base = "http://127.0.0.1:" + http;
      awaitHealthy(base);
      for (String w : List.of("w1", "w2", "w3")) {
        Map<String, String> e = new HashMap<>(env);
        e.put("ANCHOR_NODE_NAME", w);
        e.put("ANCHOR_CLUSTER_PORT", Integer.toString(QueueBench.freePort()));
        processes.add(start(home, dir, "worker", w, QueueBench.freePort(), e));
      }
      awaitNodes(base, 3);
      run(base, 60, concurrency, false); // warm-up
      run(base, 60, concurrency, true);
      for (boolean verified : new boolean[] {false, true}) {
        long t0 = System.currentTimeMillis();
        List<long[]> times = run(base, tasks, concurrency, verified);
        long wall = System.currentTimeMillis() - t0;
        long[] lat = times.stream().mapToLong(t -> t[1] - t[0]).sorted().toArray();
        System.out.printf(
            "RESULT scenario=%s tasks=%d wall_ms=%d tasks_per_s=%.1f p50_ms=%d p99_ms=%d%n",
            verified ? "verified-3-of-2" : "single",
            tasks,
            wall,
            tasks * 1000.0 / wall,
            QueueBench.pct(lat, 50),
            QueueBench.pct(lat, 99));
      }
    } finally {
      for (Process p : processes) p.destroy();
      for (Process p : processes) if (!p.waitFor(40, TimeUnit.SECONDS)) p.destroyForcibly();
    }
  }

  static Process start(
      Path home, Path dir, String role, String name, int http, Map<String, String> env)
      throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder("bash", home.resolve("anchor").toString(), role)
            .directory(home.toFile())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve(name + ".log").toFile());
    pb.environment().putAll(env);
    pb.environment().put("ANCHOR_SKIP_BUILD", "1");
    pb.environment().put("ANCHOR_DATA_DIR", dir.resolve(name).toString());
    pb.environment().put("ANCHOR_PORT", Integer.toString(http));
    pb.environment().put("ANCHOR_HTTP_HOST", "127.0.0.1");
    pb.environment().put("ANCHOR_JWT_SECRET", QueueBench.SECRET);
    return pb.start();
  }

  /**
   * Submits n tasks (at most {@code concurrency} unfinished at once); answers [submittedAt,
   * completedAt] each.
   */
  static List<long[]> run(String base, int n, int concurrency, boolean verified) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(concurrency);
    try {
      List<Future<long[]>> out = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int k = i;
        out.add(
            pool.submit(
                () -> {
                  String body =
                      "{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\""
                          + ADD
                          + "\",\"entry\":\"add\",\"args\":["
                          + k
                          + ",1]}"
                          + (verified ? ",\"verification\":{\"replicas\":3,\"quorum\":2}" : "")
                          + "}";
                  String id =
                      JSON.readTree(post(base + "/api/tasks", body)).path("taskId").asText();
                  while (true) {
                    JsonNode t = JSON.readTree(get(base + "/api/tasks/" + id));
                    String s = t.path("status").asText();
                    if (s.equals("Completed"))
                      return new long[] {
                        t.path("submittedAt").asLong(), t.path("completedAt").asLong()
                      };
                    if (s.equals("Failed") || s.equals("Cancelled"))
                      throw new IllegalStateException(t.toString());
                    TimeUnit.MILLISECONDS.sleep(20);
                  }
                }));
      }
      List<long[]> times = new ArrayList<>();
      for (Future<long[]> f : out) times.add(f.get(10, TimeUnit.MINUTES));
      return times;
    } finally {
      pool.shutdownNow();
    }
  }

  static void awaitHealthy(String base) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (System.nanoTime() < deadline) {
      try {
        if (HTTP.send(
                    HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString())
                .statusCode()
            == 200) return;
      } catch (java.io.IOException notYet) {
        // not listening yet
      }
      TimeUnit.MILLISECONDS.sleep(500);
    }
    throw new IllegalStateException("coordinator not healthy");
  }

  static void awaitNodes(String base, int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (System.nanoTime() < deadline) {
      int online = 0;
      for (JsonNode node : JSON.readTree(get(base + "/api/nodes"))) {
        if (node.path("status").asText().equals("Online")) online++;
      }
      if (online >= n) return;
      TimeUnit.MILLISECONDS.sleep(500);
    }
    throw new IllegalStateException("workers did not join");
  }

  static String get(String url) throws Exception {
    return HTTP.send(
            QueueBench.api(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  static String post(String url, String body) throws Exception {
    HttpResponse<String> r =
        HTTP.send(
            QueueBench.api(URI.create(url))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 201) throw new IllegalStateException(r.statusCode() + " " + r.body());
    return r.body();
  }
}
