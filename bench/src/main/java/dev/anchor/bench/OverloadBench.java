package dev.anchor.bench;

import static dev.anchor.bench.QueueBench.JSON;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.it.AnchorProcess;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Overload drill: a standalone node is measured for the rate it sustains, then submitted to at
 * {@code factor} times that rate for {@code seconds}, open loop (a request is sent when it is due,
 * whatever the earlier ones are doing), half as single submits and half as bulks of 20. Prints the
 * answers by status (and client-side failures: connect timeouts, request timeouts), answer times,
 * the node's heap after a full GC every 10 s, the answer times of GET /health and GET /api/tasks
 * meanwhile, and whether every task that got a 201 completed.
 *
 * <p>By default {@code clients=200} clients each keep one connection and send their share of the
 * rate (a client whose answer is late sends late: counted); {@code clients=0} sends every request
 * when due, open loop, on a new connection when none is free (a crowd beyond any server's
 * connection limit: connect timeouts then measure the client too).
 *
 * <p>Usage: {@code ./anchor bench overload [factor=10] [seconds=60] [rate= (measured)] [capacity=4]
 * [clients=200] [max-open= (node default)] [in-flight= (node default)] [xmx=1g] [store=h2|memory]}
 */
public final class OverloadBench {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .executor(Executors.newFixedThreadPool(8))
          .build();
  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new java.util.HashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      if (kv.length == 2) opt.put(kv[0], kv[1]);
    }
    double factor = Double.parseDouble(opt.getOrDefault("factor", "10"));
    int seconds = Integer.parseInt(opt.getOrDefault("seconds", "60"));
    Path dir = Files.createTempDirectory("anchor-overload-bench");
    Map<String, String> env = new java.util.HashMap<>();
    env.put("ANCHOR_WORKER_CAPACITY", opt.getOrDefault("capacity", "4"));
    env.put("ANCHOR_LOG_LEVEL", "WARN");
    env.put("ANCHOR_JAVA_OPTS", "-Xmx" + opt.getOrDefault("xmx", "1g"));
    if (opt.containsKey("max-open")) env.put("ANCHOR_MAX_OPEN_TASKS", opt.get("max-open"));
    if (opt.containsKey("in-flight")) env.put("ANCHOR_MAX_SUBMITS_IN_FLIGHT", opt.get("in-flight"));
    if ("memory".equals(opt.get("store"))) env.put("ANCHOR_MONGO_URI", "embedded-memory");
    AnchorProcess anchor = QueueBench.start("standalone", dir.resolve("data"), env);
    Process node = anchor.process;
    String base = anchor.url("");
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
    try {
      anchor.awaitHealthy(QueueBench.STARTUP);
      double sustained;
      if (opt.containsKey("rate")) {
        sustained = Double.parseDouble(opt.get("rate"));
      } else {
        // warm up, then the rate a closed loop of bulks completes at: what the node sustains
        QueueBench.runBulk(base, 3000, 100, 2);
        long t0 = System.nanoTime();
        int n = 4000;
        QueueBench.runBulk(base, n, 100, 2);
        sustained = n / ((System.nanoTime() - t0) / 1e9);
      }
      double rate = sustained * factor;
      System.out.printf(
          "sustained %.0f tasks/s; submitting %.0f tasks/s (%.0fx) for %d s%n",
          sustained, rate, factor, seconds);

      List<String> samples = Collections.synchronizedList(new ArrayList<>());
      long start = System.nanoTime();
      sampler.scheduleWithFixedDelay(
          () -> samples.add(sample(base, node.pid(), start)), 0, 10, TimeUnit.SECONDS);

      Map<String, AtomicLong> answers = new ConcurrentHashMap<>();
      ConcurrentLinkedQueue<Long> answerMs = new ConcurrentLinkedQueue<>();
      List<String> accepted = Collections.synchronizedList(new ArrayList<>());
      AtomicLong retryAfterMissing = new AtomicLong();
      List<CompletableFuture<?>> sent = new ArrayList<>();
      // half the tasks as singles, half as bulks of 20: one request every 1/(rate/2) s, one bulk
      // every 20/(rate/2) s
      long singles = (long) (rate / 2 * seconds);
      long bulks = (long) (rate / 2 / 20 * seconds);
      long total = singles + bulks;
      String bulkBody =
          "{\"tasks\":[" + String.join(",", Collections.nCopies(20, QueueBench.JS_NOOP)) + "]}";
      long attackStart = System.nanoTime();
      int clients = Integer.parseInt(opt.getOrDefault("clients", "200"));
      AtomicLong late = new AtomicLong();
      java.util.function.BiFunction<Boolean, Long, HttpRequest> request =
          (bulk, i) ->
              AnchorProcess.authorized(URI.create(base + (bulk ? "/api/tasks/bulk" : "/api/tasks")))
                  .timeout(Duration.ofSeconds(30))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(bulk ? bulkBody : QueueBench.JS_NOOP))
                  .build();
      Recorder rec = new Recorder(answers, answerMs, accepted, retryAfterMissing);
      long every = Math.max(1, bulks == 0 ? Long.MAX_VALUE : total / bulks);
      if (clients <= 0) {
        // open loop: each request when it is due, on a connection of its own if none is free (a
        // crowd of clients)
        for (long i = 0; i < total; i++) {
          long due = attackStart + (long) (i * (seconds * 1e9 / total));
          long wait = due - System.nanoTime();
          if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
          boolean bulk = bulks > 0 && i % every == 0;
          long sentAt = System.nanoTime();
          sent.add(
              CLIENT
                  .sendAsync(request.apply(bulk, i), HttpResponse.BodyHandlers.ofString())
                  .handle((r, e) -> rec.record(bulk, sentAt, r, e)));
        }
      } else {
        // `clients` clients with a connection each, sending their share of the rate: request i is
        // client i % clients's
        // (a client whose answer comes late sends its next request late, counted as late)
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
          for (int c = 0; c < clients; c++) {
            int client = c;
            sent.add(
                CompletableFuture.runAsync(
                    () -> {
                      for (long i = client; i < total; i += clients) {
                        long due = attackStart + (long) (i * (seconds * 1e9 / total));
                        long wait = due - System.nanoTime();
                        try {
                          if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                        } catch (InterruptedException e) {
                          return;
                        }
                        if (-wait > 1_000_000_000L) late.incrementAndGet();
                        boolean bulk = bulks > 0 && i % every == 0;
                        long sentAt = System.nanoTime();
                        try {
                          rec.record(
                              bulk,
                              sentAt,
                              CLIENT.send(
                                  request.apply(bulk, i), HttpResponse.BodyHandlers.ofString()),
                              null);
                        } catch (Exception e) {
                          rec.record(bulk, sentAt, null, e);
                        }
                      }
                    },
                    pool));
          }
          CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).join();
        }
      }
      CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).join();
      double attackSeconds = (System.nanoTime() - attackStart) / 1e9;
      long[] ms = answerMs.stream().mapToLong(Long::longValue).sorted().toArray();
      System.out.printf(
          "RESULT scenario=overload clients=%s requests=%d seconds=%.0f sent_over_1s_late=%d answers=%s "
              + "retry_after_missing=%d answer_p50_ms=%d answer_p99_ms=%d answer_max_ms=%d accepted_tasks=%d%n",
          clients <= 0 ? "open-loop" : Integer.toString(clients),
          total,
          attackSeconds,
          late.get(),
          new TreeMap<>(answers),
          retryAfterMissing.get(),
          QueueBench.pct(ms, 50),
          QueueBench.pct(ms, 99),
          ms.length == 0 ? -1 : ms[ms.length - 1],
          accepted.size());

      // every task that got a 201 completes
      long drainStart = System.nanoTime();
      Map<String, AtomicLong> outcome = new ConcurrentHashMap<>();
      Semaphore concurrent = new Semaphore(32);
      List<CompletableFuture<?>> checks = new ArrayList<>();
      for (String id : accepted) {
        concurrent.acquire();
        checks.add(
            CompletableFuture.runAsync(
                () -> {
                  try {
                    outcome
                        .computeIfAbsent(awaitEnd(base, id, drainStart), k -> new AtomicLong())
                        .incrementAndGet();
                  } finally {
                    concurrent.release();
                  }
                }));
      }
      CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)).join();
      samples.add(sample(base, node.pid(), start));
      System.out.printf(
          "RESULT scenario=overload-accepted accepted=%d outcomes=%s drained_after_s=%.0f%n",
          accepted.size(), new TreeMap<>(outcome), (System.nanoTime() - drainStart) / 1e9);
      System.out.println("time_s heap_after_gc_mb health_status health_ms list_ms");
      samples.forEach(System.out::println);
    } finally {
      sampler.shutdownNow();
      anchor.close();
      QueueBench.deleteTree(dir);
      System.exit(0);
    }
  }

  /**
   * Counts each answer (or client-side failure) by kind, with its time and the task ids of 201s.
   */
  private record Recorder(
      Map<String, AtomicLong> answers,
      ConcurrentLinkedQueue<Long> answerMs,
      List<String> accepted,
      AtomicLong retryAfterMissing) {
    Void record(boolean bulk, long sentAt, HttpResponse<String> r, Throwable e) {
      answerMs.add((System.nanoTime() - sentAt) / 1_000_000);
      String key;
      if (r != null) {
        key = (bulk ? "bulk " : "single ") + r.statusCode();
        if (r.statusCode() == 201) {
          try {
            JsonNode b = JSON.readTree(r.body());
            if (b.has("taskId")) accepted.add(b.path("taskId").asText());
            for (JsonNode id : b.path("taskIds")) accepted.add(id.asText());
          } catch (Exception ignored) {
            // counted as answered; its ids are missing from the completion check, which then
            // reports fewer
          }
        } else if (r.statusCode() == 503 && r.headers().firstValue("Retry-After").isEmpty()) {
          retryAfterMissing.incrementAndGet();
        }
      } else {
        Throwable t =
            e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                ? e.getCause()
                : e;
        key =
            (bulk ? "bulk " : "single ")
                + (t instanceof HttpConnectTimeoutException
                    ? "connect-timeout"
                    : t instanceof HttpTimeoutException
                        ? "request-timeout"
                        : t.getClass().getSimpleName());
      }
      answers.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
      return null;
    }
  }

  /** Waits (up to 15 minutes after the attack) until a task ended; its final status. */
  private static String awaitEnd(String base, String id, long from) {
    while (System.nanoTime() - from < TimeUnit.MINUTES.toNanos(15)) {
      try {
        HttpResponse<String> r =
            CLIENT.send(
                AnchorProcess.authorized(URI.create(base + "/api/tasks/" + id))
                    .timeout(Duration.ofSeconds(30))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        String status =
            r.statusCode() == 200
                ? JSON.readTree(r.body()).path("status").asText()
                : "http-" + r.statusCode();
        if (List.of("Completed", "Failed", "Cancelled").contains(status) || r.statusCode() == 404)
          return status;
        TimeUnit.MILLISECONDS.sleep(500);
      } catch (Exception e) {
        return "unread: " + e.getClass().getSimpleName();
      }
    }
    return "not-ended";
  }

  /**
   * One row: seconds since start, heap after a full GC (MB), and how fast /health and a listing
   * answer.
   */
  private static String sample(String base, long pid, long start) {
    long heap = -1;
    try {
      String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
      new ProcessBuilder(jcmd, Long.toString(pid), "GC.run")
          .redirectErrorStream(true)
          .start()
          .waitFor(60, TimeUnit.SECONDS);
      Process p =
          new ProcessBuilder(jcmd, Long.toString(pid), "GC.heap_info")
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes());
      Matcher m = HEAP_USED.matcher(out);
      if (m.find()) heap = Long.parseLong(m.group(1)) / 1024;
    } catch (Exception ignored) {
      // reported as -1
    }
    String health = timed(base + "/health", false);
    String list = timed(base + "/api/tasks?limit=20", true);
    return String.format(
        "%.0f %d %s %s", (System.nanoTime() - start) / 1e9, heap, health, list.split(" ")[1]);
  }

  private static String timed(String url, boolean authorized) {
    long t0 = System.nanoTime();
    try {
      HttpRequest.Builder b =
          authorized
              ? AnchorProcess.authorized(URI.create(url))
              : HttpRequest.newBuilder(URI.create(url));
      int status =
          CLIENT
              .send(
                  b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding())
              .statusCode();
      return status + " " + (System.nanoTime() - t0) / 1_000_000;
    } catch (Exception e) {
      return e.getClass().getSimpleName() + " " + (System.nanoTime() - t0) / 1_000_000;
    }
  }

  private OverloadBench() {}
}
