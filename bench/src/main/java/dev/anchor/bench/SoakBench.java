package dev.anchor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.it.AnchorProcess;
import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import dev.anchor.queue.EmbeddedRedis;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A soak drill: a coordinator and three workers started through ./anchor (Redis and an H2-file
 * MongoDB-wire server run here, as an operator's would run beside them), a steady mixed load — WASM
 * and JS tasks, verified tasks (3 replicas, quorum 2) and small DAGs — and a worker killed with -9
 * and started again every few minutes. Every 30 s it prints the coordinator's heap after a full GC
 * and the open file descriptors of the coordinator and a worker; at the end, what became of every
 * task that was answered 201: completed, failed, lost (never ended) and duplicated (recorded
 * Completed more than once). Flat heap and descriptors and zero lost/duplicated are the goal.
 *
 * <p>Usage: {@code ./anchor bench soak [minutes=10] [rate=20] [kill-every=3]} (rate: submits per
 * second; kill-every: minutes between worker kills, 0 = none).
 */
public final class SoakBench {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String ADD = ConsensusBench.ADD;
  static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      if (kv.length == 2) opt.put(kv[0], kv[1]);
    }
    double minutes = Double.parseDouble(opt.getOrDefault("minutes", "10"));
    int rate = Integer.parseInt(opt.getOrDefault("rate", "20"));
    double killEvery = Double.parseDouble(opt.getOrDefault("kill-every", "3"));
    Path dir = Files.createTempDirectory("anchor-soak");
    System.out.printf(
        "# soak: %.1f min at %d submits/s, a worker killed every %.1f min; logs in %s%n",
        minutes, rate, killEvery, dir);
    Map<String, AnchorProcess> workers = new ConcurrentHashMap<>();
    AnchorProcess coordinator = null;
    try (EmbeddedRedis redis = EmbeddedRedis.start(dir.resolve("redis"));
        EmbeddedMongoServer mongo = EmbeddedMongoServer.inDirectory(dir.resolve("mongo"))) {
      int cluster = AnchorProcess.freePort();
      Map<String, String> env =
          new HashMap<>(
              Map.of(
                  "ANCHOR_MONGO_URI",
                  mongo.connectionString(),
                  "ANCHOR_REDIS_URI",
                  redis.uri(),
                  "ANCHOR_SEED_NODES",
                  "127.0.0.1:" + cluster,
                  "ANCHOR_LOG_LEVEL",
                  "WARN",
                  "ANCHOR_MANAGEMENT",
                  "off",
                  "ANCHOR_JS_WORKERS",
                  "1",
                  "ANCHOR_DOWN_AFTER",
                  "5s"));
      Map<String, String> c = new HashMap<>(env);
      c.put("ANCHOR_CLUSTER_PORT", Integer.toString(cluster));
      coordinator = QueueBench.start("coordinator", dir.resolve("coordinator"), c);
      String base = coordinator.url("");
      coordinator.awaitHealthy(Duration.ofMinutes(4));
      Map<String, Map<String, String>> workerEnv = new HashMap<>();
      for (String w : List.of("w1", "w2", "w3")) {
        Map<String, String> e = new HashMap<>(env);
        e.put("ANCHOR_NODE_NAME", w);
        // a worker started again after its kill -9 comes back on the same address
        e.put("ANCHOR_CLUSTER_PORT", Integer.toString(AnchorProcess.freePort()));
        workerEnv.put(w, e);
        workers.put(w, QueueBench.start("worker", dir.resolve(w), e));
      }
      coordinator.api().awaitOnline(3, Duration.ofMinutes(4));

      List<String> tasks = java.util.Collections.synchronizedList(new ArrayList<>());
      List<String> dags = java.util.Collections.synchronizedList(new ArrayList<>());
      AtomicLong refused = new AtomicLong();
      ExecutorService clients = Executors.newFixedThreadPool(16);
      Random random = new Random(42);
      long start = System.nanoTime();
      long end = start + (long) (minutes * 60e9);
      long nextKill = killEvery > 0 ? start + (long) (killEvery * 60e9) : Long.MAX_VALUE;
      long nextSample = start;
      int kills = 0;
      long sent = 0;
      while (System.nanoTime() < end) {
        long now = System.nanoTime();
        if (now >= nextSample) {
          sample(
              coordinator.process,
              workers.get("w1").process,
              (now - start) / 1_000_000_000L,
              tasks.size());
          nextSample += TimeUnit.SECONDS.toNanos(30);
        }
        if (now >= nextKill) {
          String victim = List.of("w1", "w2", "w3").get(kills % 3);
          AnchorProcess p = workers.get(victim);
          p.process.descendants().forEach(ProcessHandle::destroyForcibly);
          p.kill9();
          System.out.printf(
              "# t=%ds kill -9 %s (pid %d); started again%n",
              (now - start) / 1_000_000_000L, victim, p.process.pid());
          workers.put(
              victim,
              QueueBench.start(
                  "worker", dir.resolve(victim + "-" + (kills + 1)), workerEnv.get(victim)));
          kills++;
          nextKill += (long) (killEvery * 60e9);
        }
        int kind = random.nextInt(100);
        long k = sent++;
        clients.execute(() -> submit(base, kind, k, tasks, dags, refused));
        long due = start + sent * 1_000_000_000L / rate;
        long wait = due - System.nanoTime();
        if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
      }
      clients.shutdown();
      clients.awaitTermination(2, TimeUnit.MINUTES);
      System.out.printf(
          "# load stopped after %d submits (%d answered 503 and not retried); waiting for the rest%n",
          sent, refused.get());
      report(base, tasks, dags, kills, minutes, refused.get());
      sample(
          coordinator.process,
          workers.get("w1").process,
          (System.nanoTime() - start) / 1_000_000_000L,
          tasks.size());
    } finally {
      for (AnchorProcess p : workers.values()) p.close();
      if (coordinator != null) coordinator.close();
    }
  }

  /**
   * 60 % WASM, 20 % JS, 10 % verified WASM, 10 % a DAG of a root, three parallel steps and a sink.
   */
  static void submit(
      String base, int kind, long k, List<String> tasks, List<String> dags, AtomicLong refused) {
    try {
      if (kind < 90) {
        String payload =
            kind < 60 || kind >= 80
                ? "{\"runtime\":\"wasm\",\"wasm\":\""
                    + ADD
                    + "\",\"entry\":\"add\",\"args\":["
                    + (k % 1000)
                    + ",1]}"
                : "{\"runtime\":\"js\",\"sourceCode\":\"input.n * 2\"},\"input\":{\"n\":" + k + "}";
        String body =
            "{\"payload\":"
                + payload
                + (kind >= 80 ? ",\"verification\":{\"replicas\":3,\"quorum\":2}" : "")
                + "}";
        tasks.add(
            JSON.readTree(ConsensusBench.post(base + "/api/tasks", body)).path("taskId").asText());
      } else {
        String step = "{\"runtime\":\"js\",\"sourceCode\":\"1\"}";
        String body =
            "{\"name\":\"soak\",\"tasks\":["
                + "{\"id\":\"root\",\"payload\":"
                + step
                + "},"
                + "{\"id\":\"a\",\"dependencies\":[\"root\"],\"payload\":"
                + step
                + "},"
                + "{\"id\":\"b\",\"dependencies\":[\"root\"],\"payload\":"
                + step
                + "},"
                + "{\"id\":\"c\",\"dependencies\":[\"root\"],\"payload\":"
                + step
                + "},"
                + "{\"id\":\"sink\",\"dependencies\":[\"a\",\"b\",\"c\"],\"payload\":"
                + step
                + "}]}";
        dags.add(
            JSON.readTree(ConsensusBench.post(base + "/api/dag/schedule", body))
                .path("dagId")
                .asText());
      }
    } catch (Exception e) {
      // 503 (the node at its bounds) and connection errors are answers a client retries: not tasks
      // we own
      refused.incrementAndGet();
    }
  }

  static void report(
      String base, List<String> tasks, List<String> dags, int kills, double minutes, long refused)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    Map<String, String> status = new HashMap<>();
    int duplicated = 0;
    List<String> snapshot = new ArrayList<>(tasks);
    for (String id : snapshot) {
      JsonNode t;
      while (true) {
        t = JSON.readTree(ConsensusBench.get(base + "/api/tasks/" + id));
        String s = t.path("status").asText();
        if (s.equals("Completed")
            || s.equals("Failed")
            || s.equals("Cancelled")
            || System.nanoTime() > deadline) break;
        TimeUnit.MILLISECONDS.sleep(200);
      }
      status.put(id, t.path("status").asText());
      int completions = 0;
      for (JsonNode h : t.path("history"))
        if (h.path("event").asText().equals("Completed")) completions++;
      if (completions > 1) duplicated++;
    }
    long completed = status.values().stream().filter("Completed"::equals).count();
    long failed =
        status.values().stream().filter(s -> s.equals("Failed") || s.equals("Cancelled")).count();
    long lost = snapshot.size() - completed - failed;
    int dagsCompleted = 0;
    for (String id : new ArrayList<>(dags)) {
      JsonNode d;
      while (true) {
        d = JSON.readTree(ConsensusBench.get(base + "/api/dag/" + id));
        String s = d.path("status").asText();
        if (s.equals("Completed")
            || s.equals("Failed")
            || s.equals("Cancelled")
            || System.nanoTime() > deadline) break;
        TimeUnit.MILLISECONDS.sleep(200);
      }
      if (d.path("status").asText().equals("Completed")) dagsCompleted++;
    }
    System.out.printf(
        "RESULT scenario=soak minutes=%.1f worker_kills=%d tasks=%d completed=%d failed=%d lost=%d "
            + "duplicated=%d dags=%d dags_completed=%d refused=%d%n",
        minutes,
        kills,
        snapshot.size(),
        completed,
        failed,
        lost,
        duplicated,
        dags.size(),
        dagsCompleted,
        refused);
  }

  /** The coordinator's heap after a full GC and open descriptors, and a worker's descriptors. */
  static void sample(Process coordinator, Process worker, long seconds, int tasks) {
    String heap = "?";
    try {
      String java = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
      run(java, Long.toString(coordinator.pid()), "GC.run");
      Matcher m = HEAP_USED.matcher(run(java, Long.toString(coordinator.pid()), "GC.heap_info"));
      if (m.find()) heap = Long.toString(Long.parseLong(m.group(1)) / 1024);
    } catch (Exception e) {
      heap = "? (" + e.getMessage() + ")";
    }
    System.out.printf(
        "# t=%ds tasks=%d coordinator_heap_after_gc_mb=%s coordinator_fds=%d worker_w1_fds=%d%n",
        seconds, tasks, heap, fds(coordinator), worker == null ? -1 : fds(worker));
  }

  static long fds(Process p) {
    try (var s = Files.list(Path.of("/proc", Long.toString(p.pid()), "fd"))) {
      return s.count();
    } catch (Exception e) {
      return -1;
    }
  }

  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor(30, TimeUnit.SECONDS);
    return out;
  }
}
