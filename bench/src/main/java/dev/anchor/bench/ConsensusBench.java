package dev.anchor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.it.AnchorCluster;
import dev.anchor.it.AnchorProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
    try (AnchorCluster cluster =
        AnchorCluster.coordinator()
            .workers("w1", "w2", "w3")
            .env("ANCHOR_SPOT_CHECK_FRACTION", "0")
            .env("ANCHOR_LOG_LEVEL", "WARN")
            .env("ANCHOR_MANAGEMENT", "off")
            .env("ANCHOR_JS_WORKERS", "1")
            .env("ANCHOR_JAVA_OPTS", QueueBench.JAVA_OPTS)
            .start()) {
      String base = cluster.node().url("");
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
    }
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

  static String get(String url) throws Exception {
    return HTTP.send(
            AnchorProcess.authorized(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  static String post(String url, String body) throws Exception {
    HttpResponse<String> r =
        HTTP.send(
            AnchorProcess.authorized(URI.create(url))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 201) throw new IllegalStateException(r.statusCode() + " " + r.body());
    return r.body();
  }
}
