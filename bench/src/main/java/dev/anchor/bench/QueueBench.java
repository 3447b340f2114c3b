package dev.anchor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.it.AnchorProcess;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * End-to-end queue benchmark: a standalone node started through ./anchor, N no-op JS tasks
 * submitted over HTTP, each measured from its Submitted to its Completed event as the journal
 * recorded them (submittedAt/completedAt). Prints one RESULT line for bulk throughput and one for
 * latency under a light steady load.
 *
 * <p>Usage: {@code ./anchor bench queue [jobs=5000] [rate=200] [seconds=10] [store=h2|memory]
 * [runtime=js|wasm] [concurrency=64] [bulk=500 (0: no bulk run)] [capacity=8]
 * [only=single,bulk,latency] [warmup=30000]}
 */
public final class QueueBench {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  static final String JS_NOOP =
      "{\"name\":\"noop\",\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"0\"}}";

  /** A WebAssembly module exporting add(i32, i32), called with 2 and 3. */
  static final String WASM_ADD =
      "{\"name\":\"add\",\"payload\":{\"runtime\":\"wasm\",\"entry\":\"add\",\"args\":[2,3],"
          + "\"wasm\":\"AGFzbQEAAAABBwFgAn9/AX8DAgEABwcBA2FkZAAACgkBBwAgACABags=\"}}";

  /** The task body every scenario submits: runtime=js (default) or runtime=wasm. */
  static String NOOP = JS_NOOP;

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new java.util.HashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      if (kv.length == 2) opt.put(kv[0], kv[1]);
    }
    int jobs = Integer.parseInt(opt.getOrDefault("jobs", "5000"));
    int rate = Integer.parseInt(opt.getOrDefault("rate", "200"));
    int seconds = Integer.parseInt(opt.getOrDefault("seconds", "10"));
    int concurrency = Integer.parseInt(opt.getOrDefault("concurrency", "32"));
    String store = opt.getOrDefault("store", "h2");
    String runtime = opt.getOrDefault("runtime", "js");
    NOOP =
        switch (runtime) {
          case "js" -> JS_NOOP;
          case "wasm" -> WASM_ADD;
          default -> throw new IllegalArgumentException("runtime= js or wasm, not " + runtime);
        };
    Path dir = Files.createTempDirectory("anchor-queue-bench");
    Map<String, String> env = new java.util.HashMap<>();
    env.put("ANCHOR_WORKER_CAPACITY", opt.getOrDefault("capacity", "8"));
    env.put("ANCHOR_LOG_LEVEL", "WARN");
    if (store.equals("memory")) env.put("ANCHOR_MONGO_URI", "embedded-memory");
    AnchorProcess anchor = start("standalone", dir.resolve("data"), env);
    Process node = anchor.process;
    String base = anchor.url("");
    try {
      anchor.awaitHealthy(STARTUP);
      String storeName =
          (store.equals("memory") ? "embedded-mongo-memory" : "embedded-mongo-h2-file")
              + " runtime="
              + runtime;
      // Warm the runtime and the code paths so the first measured task does not pay for JIT and
      // pool start. The node's per-task CPU keeps falling for the first ~10,000 bulk tasks
      // (measured: 7, 3, 1.9, 1.2 ms a task over successive 3,000-task bulks on a fresh
      // standalone); after 6,000 the C2 threads still took 20 % of the node's CPU.
      int warmup = Integer.parseInt(opt.getOrDefault("warmup", "30000"));
      if (warmup > 0) runBulk(base, warmup, 500, 1);
      // The one-task-per-request path (HTTP per task, small journal batches) has code of its own
      // to compile, and a bulk warm-up leaves it cold. Measured on a warm-bulk node, 9,000-task
      // single runs in a row: 2.9, 2.0, 1.55, 1.2, 1.15 ms of node CPU a task, so 5,000 tasks
      // measured the JIT; half the bulk warm-up (15,000 by default) reaches the flat part.
      runBatch(base, Math.max(300, Math.min(20000, warmup / 2)), concurrency);

      java.util.Set<String> only =
          new java.util.HashSet<>(
              Arrays.asList(opt.getOrDefault("only", "single,bulk,latency").split(",")));
      if (only.contains("single")) {
        Map<String, Long> singleCpuBefore = cpuMillis(node.toHandle());
        List<long[]> bulk = runBatch(base, jobs, concurrency);
        printCpu(
            "cpu-per-task-single", storeName, jobs, singleCpuBefore, cpuMillis(node.toHandle()));
        long first = bulk.stream().mapToLong(t -> t[0]).min().orElse(0);
        long last = bulk.stream().mapToLong(t -> t[1]).max().orElse(0);
        double perSecond = jobs * 1000.0 / Math.max(1, last - first);
        long[] lat = latencies(bulk);
        System.out.printf(
            "RESULT scenario=throughput store=%s jobs=%d jobs_per_s=%.0f p50_ms=%d p99_ms=%d%n",
            storeName, jobs, perSecond, pct(lat, 50), pct(lat, 99));
      }

      int bulkSize = Integer.parseInt(opt.getOrDefault("bulk", "500"));
      if (bulkSize > 0 && only.contains("bulk")) {
        Map<String, Long> cpuBefore = cpuMillis(node.toHandle());
        List<long[]> bulked = runBulk(base, jobs, bulkSize, Math.max(1, concurrency / 16));
        printCpu("cpu-per-task", storeName, jobs, cpuBefore, cpuMillis(node.toHandle()));
        long bf = bulked.stream().mapToLong(t -> t[0]).min().orElse(0);
        long bl = bulked.stream().mapToLong(t -> t[1]).max().orElse(0);
        long[] blat = latencies(bulked);
        System.out.printf(
            "RESULT scenario=throughput-bulk store=%s jobs=%d batch=%d jobs_per_s=%.0f p50_ms=%d p99_ms=%d%n",
            storeName,
            jobs,
            bulkSize,
            jobs * 1000.0 / Math.max(1, bl - bf),
            pct(blat, 50),
            pct(blat, 99));
      }

      if (only.contains("latency")) {
        List<long[]> steady = runAtRate(base, rate, seconds);
        long[] sl = latencies(steady);
        System.out.printf(
            "RESULT scenario=latency store=%s rate_per_s=%d jobs=%d p50_ms=%d p99_ms=%d max_ms=%d%n",
            storeName, rate, steady.size(), pct(sl, 50), pct(sl, 99), sl[sl.length - 1]);
      }
      System.out.printf(
          "(submits answered 503 and retried: %d; load average now %.1f)%n",
          retried.get(),
          java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    } finally {
      anchor.close();
      deleteTree(dir);
    }
  }

  /**
   * Submits {@code n} tasks with up to {@code concurrency} requests in flight; returns
   * [submittedAt, completedAt] each.
   */
  static List<long[]> runBatch(String base, int n, int concurrency) throws Exception {
    Feed feed = Feed.open(base);
    Semaphore inFlight = new Semaphore(concurrency);
    List<String> ids = java.util.Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<?>> sent = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      inFlight.acquire();
      sent.add(
          submit(base)
              .whenComplete(
                  (id, t) -> {
                    inFlight.release();
                    if (id != null) ids.add(id);
                  }));
    }
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).join();
    return feed.await(ids, Duration.ofMinutes(10));
  }

  /**
   * Submits {@code n} tasks through POST /api/tasks/bulk in batches, {@code parallel} batches in
   * flight.
   */
  static List<long[]> runBulk(String base, int n, int batch, int parallel) throws Exception {
    Feed feed = Feed.open(base);
    Semaphore inFlight = new Semaphore(parallel);
    List<String> ids = java.util.Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<?>> sent = new ArrayList<>();
    for (int done = 0; done < n; done += batch) {
      int size = Math.min(batch, n - done);
      StringBuilder body = new StringBuilder("{\"tasks\":[");
      for (int i = 0; i < size; i++) body.append(i == 0 ? "" : ",").append(NOOP);
      body.append("]}");
      inFlight.acquire();
      sent.add(
          postBulk(base, body.toString())
              .whenComplete(
                  (r, t) -> {
                    inFlight.release();
                    if (r == null || r.statusCode() != 201) {
                      throw new IllegalStateException(
                          "bulk submit failed: "
                              + (r == null ? t : r.statusCode() + " " + r.body()));
                    }
                    try {
                      for (JsonNode id : JSON.readTree(r.body()).path("taskIds"))
                        ids.add(id.asText());
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                  }));
    }
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).join();
    return feed.await(ids, Duration.ofMinutes(10));
  }

  /**
   * One POST /api/tasks/bulk; a 503 (the node at its submit bounds) is tried again after its
   * Retry-After.
   */
  static CompletableFuture<HttpResponse<String>> postBulk(String base, String body) {
    HttpRequest req =
        AnchorProcess.authorized(URI.create(base + "/api/tasks/bulk"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
    return HTTP.sendAsync(req, HttpResponse.BodyHandlers.ofString())
        .thenCompose(
            r -> {
              if (r.statusCode() != 503) return CompletableFuture.completedFuture(r);
              retried.incrementAndGet();
              long wait = r.headers().firstValue("Retry-After").map(Long::parseLong).orElse(1L);
              return CompletableFuture.supplyAsync(
                      () -> null, CompletableFuture.delayedExecutor(wait, TimeUnit.SECONDS))
                  .thenCompose(x -> postBulk(base, body));
            });
  }

  /** Submits at a steady rate for {@code seconds}; returns [submittedAt, completedAt] each. */
  static List<long[]> runAtRate(String base, int rate, int seconds) throws Exception {
    Feed feed = Feed.open(base);
    List<String> ids = java.util.Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<?>> sent = new ArrayList<>();
    long start = System.nanoTime();
    long total = (long) rate * seconds;
    for (long i = 0; i < total; i++) {
      long due = start + i * 1_000_000_000L / rate;
      long wait = due - System.nanoTime();
      if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
      sent.add(submit(base).thenAccept(ids::add));
    }
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).join();
    return feed.await(ids, Duration.ofMinutes(5));
  }

  /**
   * One POST /api/tasks; a 503 (the cluster did not answer in time) is retried, as a client would.
   */
  static CompletableFuture<String> submit(String base) {
    HttpRequest req =
        AnchorProcess.authorized(URI.create(base + "/api/tasks"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(NOOP))
            .build();
    return HTTP.sendAsync(req, HttpResponse.BodyHandlers.ofString())
        .thenCompose(
            r -> {
              if (r.statusCode() == 503) {
                retried.incrementAndGet();
                return submit(base);
              }
              if (r.statusCode() != 201)
                throw new IllegalStateException(
                    "submit answered " + r.statusCode() + ": " + r.body());
              try {
                return CompletableFuture.completedFuture(
                    JSON.readTree(r.body()).path("taskId").asText());
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
  }

  static final java.util.concurrent.atomic.AtomicLong retried =
      new java.util.concurrent.atomic.AtomicLong();

  /**
   * Completed events from the change feed, collected from before the first submit so none is
   * missed.
   */
  static final class Feed {
    final Map<String, long[]> done = new ConcurrentHashMap<>();
    final Thread reader;
    final CountDownLatch connected = new CountDownLatch(1);
    volatile boolean stop;

    /** The newest event id this reader saw. */
    volatile String lastId;

    /**
     * Where the next reader starts: the first from the start of the feed, each later one after the
     * newest event its predecessor saw. Replaying the whole feed (up to 100,000 changes as
     * server-sent events) at the start of every scenario loaded the node and inflated the figures
     * of the later scenarios.
     */
    static volatile String resumeFrom = "0-0";

    private final String base;

    private Feed(String base) {
      this.base = base;
      reader = new Thread(() -> read(base), "feed");
      reader.setDaemon(true);
    }

    static Feed open(String base) throws InterruptedException {
      Feed f = new Feed(base);
      f.reader.start();
      f.connected.await(30, TimeUnit.SECONDS);
      return f;
    }

    void read(String base) {
      try {
        // from a known id, not "now": a fresh subscriber's "now" is fixed only when the server
        // first reads, which can
        // be after our first submits, and a missed Completed would leave the run waiting
        HttpResponse<java.io.InputStream> r =
            HTTP.send(
                // only the ends, as a client waiting for results listens (Bull's "completed"): the
                // whole feed is three changes a task for this reader to parse and the node to send
                AnchorProcess.authorized(
                        URI.create(base + "/api/events?kind=task&events=Completed"))
                    .header("Last-Event-ID", resumeFrom)
                    .build(),
                HttpResponse.BodyHandlers.ofInputStream());
        connected.countDown();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body()))) {
          String line;
          String event = null;
          String data = null;
          // an event's fields come in any order (Pekko writes data before event): act on the blank
          // line ending it
          while (!stop && (line = in.readLine()) != null) {
            if (line.startsWith("event:")) event = line.substring(6).trim();
            else if (line.startsWith("id:")) lastId = line.substring(3).trim();
            else if (line.startsWith("data:")) data = line.substring(5).trim();
            else if (line.isEmpty()) {
              if ("Completed".equals(event) && data != null) {
                JsonNode t = JSON.readTree(data);
                done.put(
                    t.path("taskId").asText(),
                    new long[] {t.path("submittedAt").asLong(), t.path("completedAt").asLong()});
              }
              event = null;
              data = null;
            }
          }
        }
      } catch (Exception e) {
        connected.countDown();
        if (!stop) System.err.println("feed: " + e);
      }
    }

    List<long[]> await(List<String> ids, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline && !done.keySet().containsAll(ids))
        TimeUnit.MILLISECONDS.sleep(50);
      stop = true;
      if (lastId != null) resumeFrom = lastId;
      reader.interrupt();
      List<long[]> out = new ArrayList<>();
      for (String id : ids) {
        long[] t = done.get(id);
        if (t == null) {
          String state;
          try {
            state =
                HTTP.send(
                        AnchorProcess.authorized(URI.create(base + "/api/tasks/" + id)).build(),
                        HttpResponse.BodyHandlers.ofString())
                    .body();
          } catch (Exception e) {
            state = "(could not read it: " + e + ")";
          }
          throw new IllegalStateException(
              "task " + id + " did not complete within " + timeout + ": " + state);
        }
        out.add(t);
      }
      return out;
    }
  }

  static void printCpu(
      String scenario,
      String storeName,
      int jobs,
      Map<String, Long> before,
      Map<String, Long> after) {
    StringBuilder cpu = new StringBuilder();
    double total = 0;
    for (String k : List.of("node", "js_children", "redis", "other")) {
      double perTask = (after.getOrDefault(k, 0L) - before.getOrDefault(k, 0L)) / (double) jobs;
      total += perTask;
      cpu.append(String.format(" %s_ms=%.2f", k, perTask));
    }
    // the load generator shares the machine with the node: its own CPU says how much of it the
    // figures could not use
    double client =
        (after.getOrDefault("client", 0L) - before.getOrDefault("client", 0L)) / (double) jobs;
    System.out.printf(
        "RESULT scenario=%s store=%s jobs=%d%s total_ms=%.2f bench_client_ms=%.2f%n",
        scenario, storeName, jobs, cpu, total, client);
  }

  /**
   * CPU time (user + system, ms) of the node's JVM and of its child processes by kind, from /proc:
   * the share of each process in a run, whatever else the machine is doing.
   */
  static Map<String, Long> cpuMillis(ProcessHandle root) {
    Map<String, Long> out = new java.util.HashMap<>();
    out.merge("node", ticks(root.pid()) * 10, Long::sum);
    out.put("client", ticks(ProcessHandle.current().pid()) * 10);
    root.descendants()
        .forEach(
            p -> {
              String cmd = p.info().command().orElse("");
              String kind =
                  cmd.endsWith("/java")
                      ? "js_children"
                      : cmd.contains("redis-server") ? "redis" : "other";
              out.merge(kind, ticks(p.pid()) * 10, Long::sum);
            });
    return out;
  }

  /** utime + stime of a process in clock ticks (100 per second on Linux), 0 when it is gone. */
  static long ticks(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    } catch (Exception gone) {
      return 0;
    }
  }

  static long[] latencies(List<long[]> ts) {
    long[] l = ts.stream().mapToLong(t -> t[1] - t[0]).toArray();
    Arrays.sort(l);
    return l;
  }

  static long pct(long[] sorted, int p) {
    if (sorted.length == 0) return -1;
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  /** The caller's ANCHOR_JAVA_OPTS: a bench's JVMs get the heap ./anchor gives them. */
  static final String JAVA_OPTS = System.getenv().getOrDefault("ANCHOR_JAVA_OPTS", "");

  /** How long a bench's JVM may take to answer /health. */
  static final Duration STARTUP = Duration.ofSeconds(180);

  /**
   * {@code ./anchor ROLE} started by the tests' launcher ({@link AnchorProcess}: the test secret,
   * loopback, free ports, output in a log beside {@code dataDir}), with the heap ./anchor gives it
   * (the caller's ANCHOR_JAVA_OPTS, not the tests' cap) unless {@code env} names one.
   */
  static AnchorProcess start(String role, Path dataDir, Map<String, String> env)
      throws java.io.IOException {
    return start(role, dataDir, AnchorProcess.freePort(), env);
  }

  static AnchorProcess start(String role, Path dataDir, int http, Map<String, String> env)
      throws java.io.IOException {
    Map<String, String> e = new java.util.HashMap<>();
    e.put("ANCHOR_JAVA_OPTS", JAVA_OPTS);
    e.putAll(env);
    return AnchorProcess.start(role, dataDir, http, e);
  }

  static void deleteTree(Path dir) throws java.io.IOException {
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
