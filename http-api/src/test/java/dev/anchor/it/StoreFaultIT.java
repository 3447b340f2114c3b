package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * A store dies under load: the standalone's embedded Redis killed with -9 (restarted by its
 * supervisor), an external redis-server killed with -9 and brought back without its data, the
 * embedded MongoDB made unreachable (the chaos switch stops its listener). Throughout, every
 * request is answered (201, or 503 with Retry-After while a store is down), /health names what is
 * down, every acknowledged task completes, none is recorded complete twice. Figures are printed
 * (the drill's numbers, not asserted).
 */
@org.junit.jupiter.api.Timeout(value = 10, unit = TimeUnit.MINUTES)
class StoreFaultIT {
  static final ObjectMapper JSON = ApiClient.JSON;

  // each scenario needs a standalone of its own kind: started per test, stopped by the try block

  @Test
  void embeddedRedisKilledUnderLoadIsRestartedAndNoAcknowledgedTaskIsLost() throws Exception {
    try (AnchorCluster standalone = AnchorCluster.standalone().start()) {
      AnchorProcess node = standalone.node();
      long pidBefore =
          JSON.readTree(node.get("/health").body())
              .path("queue")
              .path("embedded")
              .path("pid")
              .asLong();
      assertTrue(
          ProcessHandle.of(pidBefore).isPresent(),
          "the embedded redis-server runs as pid " + pidBefore);
      try (Load load = new Load(node, 5)) {
        load.awaitAccepted(20, Duration.ofSeconds(120));
        long killedAt = System.currentTimeMillis();
        load.events.add("redis killed at " + killedAt);
        ProcessHandle.of(pidBefore).orElseThrow().destroyForcibly(); // SIGKILL
        JsonNode back =
            awaitHealth(
                node,
                "the queue ok after a restart of its redis-server",
                h ->
                    h.path("queue").path("embedded").path("restarts").asInt() >= 1
                        && "ok".equals(h.path("queue").path("status").asText()),
                Duration.ofSeconds(60));
        long pidAfter = back.path("queue").path("embedded").path("pid").asLong();
        assertNotEquals(pidBefore, pidAfter, "a new redis-server runs: " + back);
        load.awaitAcceptedAfter(killedAt, 10, Duration.ofSeconds(120));
        load.stop();
        Figures f = load.verifyAllCompletedOnce(Duration.ofSeconds(240));
        System.out.printf(
            "embedded Redis kill -9 under load: %s; first task accepted %d ms and first completed %d ms"
                + " after the kill%n",
            f,
            load.firstAcceptedAfter(killedAt) - killedAt,
            f.firstCompletionOfSubmittedAfter(killedAt) - killedAt);
        printDrillLog(node);
      }
    }
  }

  @Test
  void externalRedisBackWithoutItsDataIsRefilledFromTheJournal() throws Exception {
    try (AnchorCluster standalone =
        AnchorCluster.standalone().externalRedis().env("ANCHOR_WORKER_CAPACITY", "1").start()) {
      AnchorProcess node = standalone.node();
      // tasks that ended before Redis lost its data: their listing entries and counts are in Redis
      // only as copies of the journal
      List<String> endedBefore = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        endedBefore.add(
            submit(
                node,
                "{\"name\":\"before%d\",\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"%d + 100\"}}"
                    .formatted(i, i)));
      }
      for (String id : endedBefore)
        node.api().awaitListed(id, "Completed", Duration.ofSeconds(120));
      // one slot, taken by a slow task: the next ones wait as entries on the node's stream, not yet
      // read
      List<String> ids = new ArrayList<>();
      ids.add(
          submit(
              node,
              "{\"name\":\"slow\",\"payload\":{\"runtime\":\"js\",\"sourceCode\":"
                  + "\"const end = Date.now() + 8000; while (Date.now() < end) {} 'slow'\"}}"));
      node.api().awaitStatus(ids.get(0), "Running", Duration.ofSeconds(120));
      for (int i = 0; i < 5; i++) {
        ids.add(
            submit(
                node,
                "{\"name\":\"q%d\",\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"%d * 3\"}}"
                    .formatted(i, i)));
      }
      for (String id : ids.subList(1, ids.size())) {
        // on the node's stream: queued there, waiting for the slot
        node.api()
            .awaitTask(
                id,
                Duration.ofSeconds(60),
                t -> "Queued".equals(t.path("status").asText()) && !t.path("nodeId").isNull());
      }
      // Redis dies and comes back without its file: every queued job, consumer group and placement
      // is gone
      long killedAt = System.currentTimeMillis();
      standalone.killRedis();
      JsonNode down =
          awaitHealth(
              node,
              "the queue unreachable",
              h -> "unreachable".equals(h.path("queue").path("status").asText()),
              Duration.ofSeconds(30));
      assertEquals(List.of("queue"), list(down.path("unhealthy")), down.toString());
      HttpResponse<String> refused =
          node.post("/api/tasks", "{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"1\"}}");
      assertEquals(503, refused.statusCode(), refused.body());
      assertTrue(
          refused.headers().firstValue("Retry-After").isPresent(), refused.headers().toString());
      assertTrue(
          JSON.readTree(refused.body()).path("error").asText().contains("Redis"), refused.body());

      standalone.restartRedis(false);
      long restartedAt = System.currentTimeMillis();
      awaitHealth(
          node,
          "the queue ok",
          h -> "ok".equals(h.path("queue").path("status").asText()),
          Duration.ofSeconds(30));
      for (int i = 0; i < ids.size(); i++) {
        JsonNode t = node.api().awaitEnd(ids.get(i), Duration.ofSeconds(120));
        assertEquals("Completed", t.path("status").asText(), t.toString());
        assertEquals(
            i == 0 ? "slow" : String.valueOf((i - 1) * 3), t.path("result").asText(), t.toString());
        assertEquals(1, completions(t), "recorded complete once: " + t);
      }
      // the listing and its counters come back from the journal, not only the tasks that were open
      for (String id : endedBefore) {
        JsonNode listed = node.api().awaitListed(id, "Completed", Duration.ofSeconds(60));
        assertTrue(listed.path("name").asText().startsWith("before"), listed.toString());
      }
      JsonNode stats =
          Poll.until(
              "every task counted as Completed in /api/queue/stats",
              Duration.ofSeconds(30),
              () -> node.api().json("/api/queue/stats"),
              st -> st.path("total").path("completed").asInt() >= endedBefore.size() + ids.size());
      assertEquals(
          endedBefore.size() + ids.size(),
          stats.path("total").path("completed").asInt(),
          stats.toString());
      String after = submit(node, "{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"6 * 7\"}}");
      JsonNode t =
          node.api()
              .awaitTask(
                  after,
                  Duration.ofSeconds(60),
                  v -> "Completed".equals(v.path("status").asText()));
      System.out.printf(
          "external Redis kill -9, down %d ms, back without its data: %d queued jobs re-dispatched from"
              + " the journal, all %d tasks completed once; a new task completed %d ms after the restart%n",
          restartedAt - killedAt,
          ids.size() - 1,
          ids.size(),
          t.path("completedAt").asLong() - restartedAt);
      printDrillLog(node);
    }
  }

  @Test
  void mongoUnreachableMidLoadAnswers503AndEntitiesResume() throws Exception {
    try (AnchorCluster standalone = AnchorCluster.standalone().env("ANCHOR_CHAOS", "on").start()) {
      AnchorProcess node = standalone.node();
      Path data = node.dataDir;
      try (Load load = new Load(node, 8)) {
        load.awaitAccepted(20, Duration.ofSeconds(120));
        Path flag = data.resolve("chaos").resolve("mongo-unreachable");
        long downAt = System.currentTimeMillis();
        load.events.add("mongo down at " + downAt);
        Files.writeString(flag, "drill");
        JsonNode down =
            awaitHealth(
                node,
                "the store unreachable",
                h -> "unreachable".equals(h.path("store").path("status").asText()),
                Duration.ofSeconds(30));
        assertTrue(list(down.path("unhealthy")).contains("store"), down.toString());
        // down long enough for journal writes in flight to fail and their entities to restart with
        // backoff
        load.awaitRefused(40, Duration.ofSeconds(60));
        long upAt = System.currentTimeMillis();
        load.events.add("mongo up at " + upAt);
        Files.delete(flag);
        awaitHealth(
            node, "healthy again", h -> h.path("healthy").asBoolean(), Duration.ofSeconds(60));
        load.awaitAcceptedAfter(upAt, 10, Duration.ofSeconds(120));
        load.stop();
        Figures f = load.verifyAllCompletedOnce(Duration.ofSeconds(240));
        System.out.printf(
            "MongoDB unreachable for %d ms under load: %s; first 503 %d ms after the outage began%n",
            upAt - downAt, f, load.firstRefusedAfter(downAt) - downAt);
        printDrillLog(node);
      }
    }
  }

  // ---------------------------------------------------------------- helpers

  record Figures(
      int accepted,
      int refused,
      int completed,
      int lost,
      int completedTwice,
      long maxAnswerMs,
      long maxHealthMs,
      Map<String, Long> completedAt,
      Map<String, Long> submittedAt) {
    long firstCompletionOfSubmittedAfter(long t) {
      return submittedAt.entrySet().stream()
          .filter(e -> e.getValue() > t)
          .mapToLong(e -> completedAt.getOrDefault(e.getKey(), Long.MAX_VALUE))
          .min()
          .orElse(-1);
    }

    @Override
    public String toString() {
      return ("%d accepted (201), %d refused (503), %d completed, %d lost, %d completed twice, slowest submit answer"
              + " %d ms, slowest /health answer %d ms")
          .formatted(accepted, refused, completed, lost, completedTwice, maxAnswerMs, maxHealthMs);
    }
  }

  /**
   * Submits a task every {@code 1000/perSecond} ms on its own thread and keeps every answer;
   * /health is asked in between. Any answer other than 201 or 503-with-Retry-After, or no answer
   * within 5 s, fails the test.
   */
  static final class Load implements AutoCloseable {
    final AnchorProcess node;
    final Map<String, Long> accepted = new ConcurrentHashMap<>();
    final List<Long> refusedAt = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    final AtomicLong maxAnswerMs = new AtomicLong();
    final AtomicLong maxHealthMs = new AtomicLong();
    final AtomicBoolean running = new AtomicBoolean(true);

    /** What the drill did when (epoch ms), for failure messages. */
    final List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());

    final Thread thread;

    /** Every request must be answered within 5 s. */
    final ApiClient api;

    Load(AnchorProcess node, int perSecond) {
      this.node = node;
      this.api = node.api().withTimeout(Duration.ofSeconds(5));
      this.thread =
          Thread.ofPlatform()
              .daemon()
              .name("load")
              .start(
                  () -> {
                    int n = 0;
                    while (running.get()) {
                      long t0 = System.currentTimeMillis();
                      try {
                        n++;
                        HttpResponse<String> r =
                            api.post(
                                "/api/tasks",
                                "{\"name\":\"load %d\",\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"input.n * 2\"},\"input\":{\"n\":%d}}"
                                    .formatted(n, n));
                        long took = System.currentTimeMillis() - t0;
                        maxAnswerMs.accumulateAndGet(took, Math::max);
                        if (r.statusCode() == 201) {
                          accepted.put(
                              JSON.readTree(r.body()).path("taskId").asText() + "#" + n, t0);
                        } else if (r.statusCode() == 503
                            && r.headers().firstValue("Retry-After").isPresent()) {
                          refusedAt.add(t0);
                        } else {
                          failures.add("at " + t0 + " POST " + r.statusCode() + " " + r.body());
                        }
                        if (n % 4 == 0) {
                          long h0 = System.currentTimeMillis();
                          HttpResponse<String> h = api.get("/health");
                          maxHealthMs.accumulateAndGet(System.currentTimeMillis() - h0, Math::max);
                          if (h.statusCode() != 200 && h.statusCode() != 503)
                            failures.add("at " + h0 + " /health " + h.statusCode());
                        }
                      } catch (Exception e) {
                        failures.add("at " + t0 + " (sent at, epoch ms) no answer: " + e);
                      }
                      long rest = 1000 / perSecond - (System.currentTimeMillis() - t0);
                      if (rest > 0) {
                        try {
                          Thread.sleep(rest); // pacing of the load, not synchronisation
                        } catch (InterruptedException e) {
                          return;
                        }
                      }
                    }
                  });
    }

    void awaitAccepted(int n, Duration timeout) throws Exception {
      awaitAcceptedAfter(0, n, timeout);
    }

    void awaitAcceptedAfter(long t, int n, Duration timeout) throws Exception {
      try {
        Poll.until(
            n + " tasks accepted after " + t,
            timeout,
            Duration.ofMillis(100),
            () -> accepted.values().stream().filter(v -> v > t).count(),
            count -> count >= n);
      } catch (AssertionError e) {
        throw new AssertionError(
            e.getMessage() + "; failures: " + failures + "\n" + node.output(), e);
      }
    }

    void awaitRefused(int n, Duration timeout) throws Exception {
      try {
        Poll.until(
            n + " submits refused",
            timeout,
            Duration.ofMillis(100),
            refusedAt::size,
            count -> count >= n);
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "; failures: " + failures, e);
      }
    }

    long firstAcceptedAfter(long t) {
      return accepted.values().stream()
          .filter(v -> v > t)
          .mapToLong(Long::longValue)
          .min()
          .orElse(-1);
    }

    long firstRefusedAfter(long t) {
      synchronized (refusedAt) {
        return refusedAt.stream().filter(v -> v > t).mapToLong(Long::longValue).min().orElse(-1);
      }
    }

    void stop() throws InterruptedException {
      running.set(false);
      thread.join(15_000);
    }

    /**
     * Every accepted task completed with its result, each recorded complete once; and no request
     * went unanswered.
     */
    Figures verifyAllCompletedOnce(Duration timeout) throws Exception {
      if (!failures.isEmpty()) printDrillLog(node);
      assertEquals(
          List.of(), failures, "every request answered 201 or 503 with Retry-After; " + events);
      Map<String, Long> completedAt = new java.util.HashMap<>();
      Map<String, Long> submittedAt = new java.util.HashMap<>();
      int lost = 0, twice = 0;
      long deadline = System.nanoTime() + timeout.toNanos();
      for (var e : accepted.entrySet()) {
        String id = e.getKey().substring(0, e.getKey().indexOf('#'));
        int n = Integer.parseInt(e.getKey().substring(e.getKey().indexOf('#') + 1));
        JsonNode t =
            node.api().awaitEnd(id, Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
        if (!"Completed".equals(t.path("status").asText()) || t.path("result").asInt() != n * 2) {
          lost++;
          System.out.println("not completed as submitted: " + t);
        }
        if (completions(t) > 1) twice++;
        completedAt.put(id, t.path("completedAt").asLong());
        submittedAt.put(id, e.getValue());
      }
      Figures f =
          new Figures(
              accepted.size(),
              refusedAt.size(),
              accepted.size() - lost,
              lost,
              twice,
              maxAnswerMs.get(),
              maxHealthMs.get(),
              completedAt,
              submittedAt);
      assertEquals(0, lost, f.toString());
      assertEquals(0, twice, f.toString());
      return f;
    }

    @Override
    public void close() throws InterruptedException {
      stop();
    }
  }

  /** The node's own account of the drill, for the test's output. */
  static void printDrillLog(AnchorProcess node) {
    node.output()
        .lines()
        .filter(
            l ->
                l.contains("Redis")
                    || l.contains("MongoDB")
                    || l.contains("open tasks")
                    || l.contains("queueing it again")
                    || l.contains("redis-server")
                    || l.contains("journal")
                    || l.contains("ERROR")
                    || l.contains("NodeAgent")
                    || l.contains("lettuce")
                    || l.contains("reconnect"))
        .limit(80)
        .forEach(l -> System.out.println("  | " + l));
  }

  static String submit(AnchorProcess node, String body) throws Exception {
    HttpResponse<String> r = node.post("/api/tasks", body);
    assertEquals(201, r.statusCode(), r.body());
    return JSON.readTree(r.body()).path("taskId").asText();
  }

  static long completions(JsonNode task) {
    long n = 0;
    for (JsonNode h : task.path("history")) if ("Completed".equals(h.path("event").asText())) n++;
    return n;
  }

  static List<String> list(JsonNode array) {
    List<String> out = new ArrayList<>();
    for (JsonNode n : array) out.add(n.asText());
    return out;
  }

  /**
   * Polls /health until {@code done} holds: every answer must come within 2 s, with 200 when it
   * says healthy and 503 when not.
   */
  static JsonNode awaitHealth(
      AnchorProcess node, String what, Predicate<JsonNode> done, Duration timeout)
      throws Exception {
    return node.api().withTimeout(Duration.ofSeconds(2)).awaitHealth(what, timeout, done);
  }
}
