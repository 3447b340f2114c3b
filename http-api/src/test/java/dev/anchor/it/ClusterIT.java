package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A real cluster on loopback: one coordinator JVM and two worker JVMs started through ./anchor,
 * sharing a real redis-server and a MongoDB-wire server run by the test. Every task completes with
 * the right result exactly once even when a worker or the coordinator is killed with -9 in the
 * middle of the run, or a worker is frozen (SIGSTOP) past the down-after time and then resumed: it
 * rejoins with a new actor system and takes work again.
 */
@org.junit.jupiter.api.Timeout(value = 15, unit = java.util.concurrent.TimeUnit.MINUTES)
class ClusterIT {
  static final ObjectMapper JSON = ApiClient.JSON;

  @RegisterExtension
  final AnchorCluster cluster =
      AnchorCluster.coordinator()
          .manual()
          .env("ANCHOR_DOWN_AFTER", "4s")
          .workerEnv("ANCHOR_WORKER_CAPACITY", "3");

  /** A coordinator and workers w1, w2 online. */
  ApiClient coordinatorAndTwoWorkers() throws Exception {
    ApiClient api = cluster.startCoordinator().api();
    cluster.startWorker("w1");
    cluster.startWorker("w2");
    api.awaitOnline(2, Duration.ofSeconds(150));
    return api;
  }

  List<String> submit(ApiClient c, int from, int count) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      // a little work per task, so that a crash lands while jobs are running
      ids.add(
          c.submit(
              """
          {"name":"t%d","payload":{"runtime":"js","sourceCode":"let s = 0; for (let k = 0; k < 200000; k++) s += k %% 7; input.n * 3 + (s > 0 ? 0 : 1)"},"input":{"n":%d},"retries":{"attempts":5,"backoffMs":200}}
          """
                  .formatted(i, i)));
    }
    return ids;
  }

  static long completions(JsonNode task) {
    long n = 0;
    for (JsonNode h : task.path("history")) if (h.path("event").asText().equals("Completed")) n++;
    return n;
  }

  void assertAllRightOnce(ApiClient c, List<String> ids, int from) throws Exception {
    for (int i = 0; i < ids.size(); i++) {
      JsonNode t = c.task(ids.get(i));
      assertEquals("Completed", t.path("status").asText(), t.toString());
      assertEquals(String.valueOf((from + i) * 3), t.path("result").asText(), t.toString());
      assertEquals(1, completions(t), "recorded once: " + t);
    }
  }

  @Test
  void everyTaskCompletesOnceWhenAWorkerIsKilledMidRun() throws Exception {
    ApiClient c = coordinatorAndTwoWorkers();
    List<String> ids = submit(c, 0, 200);
    c.awaitCompleted(ids, 30, Duration.ofMinutes(3));
    cluster.worker("w1").kill9();
    c.awaitCompleted(ids, ids.size(), Duration.ofMinutes(5));
    assertAllRightOnce(c, ids, 0);
    assertTrue(cluster.worker("w2").process.isAlive());
  }

  @Test
  void everyTaskCompletesOnceWhenTheCoordinatorIsKilledAndRestarted() throws Exception {
    ApiClient c = coordinatorAndTwoWorkers();
    List<String> ids = submit(c, 0, 120);
    c.awaitCompleted(ids, 20, Duration.ofMinutes(3));
    cluster.node().kill9();
    ApiClient again = cluster.startCoordinator().api();
    again.awaitCompleted(ids, ids.size(), Duration.ofMinutes(5));
    assertAllRightOnce(again, ids, 0);
  }

  @Test
  void whenOneOfTwoCoordinatorsDiesItsShardsMoveAndItsTasksComplete() throws Exception {
    int secondCluster = AnchorProcess.freePort();
    Map<String, String> seeds =
        Map.of(
            "ANCHOR_SEED_NODES",
            "127.0.0.1:" + cluster.clusterPort() + ",127.0.0.1:" + secondCluster);
    AnchorProcess c1 = cluster.startCoordinator(cluster.clusterPort(), cluster.httpPort(), seeds);
    ApiClient c2 = cluster.startCoordinator(secondCluster, AnchorProcess.freePort(), seeds).api();
    cluster.startWorker("w1");
    cluster.startWorker("w2");
    c2.awaitOnline(2, Duration.ofSeconds(150));
    // submitted through both, so both coordinators host task entities
    List<String> ids = new ArrayList<>(submit(c1.api(), 0, 60));
    ids.addAll(submit(c2, 60, 60));
    c2.awaitCompleted(ids, 15, Duration.ofMinutes(3));
    c1.kill9();
    c2.awaitCompleted(ids, ids.size(), Duration.ofMinutes(5));
    assertAllRightOnce(c2, ids, 0);
  }

  // ---------------------------------------------------------------- a frozen worker

  /** Tasks busy for {@code ms} of wall time each, so a worker frozen mid-run holds running jobs. */
  static List<String> submitBusy(ApiClient c, int from, int count, int ms) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      ids.add(
          c.submit(
              """
          {"name":"b%d","payload":{"runtime":"js","sourceCode":"const t0 = Date.now(); while (Date.now() - t0 < %d) {} input.n * 3"},"input":{"n":%d},"retries":{"attempts":5,"backoffMs":200}}
          """
                  .formatted(i, ms, i)));
    }
    return ids;
  }

  static boolean attemptFailedOn(JsonNode task, String nodeId) {
    for (JsonNode h : task.path("history"))
      if (h.path("event").asText().equals("AttemptFailed")
          && h.path("nodeId").asText().equals(nodeId)) return true;
    return false;
  }

  /**
   * Each task's attempt on {@code nodeId} failed as lost and a later attempt is the one recorded.
   */
  static void assertReplacedAfterLossOn(ApiClient c, List<String> ids, String nodeId)
      throws Exception {
    for (String id : ids) {
      JsonNode t = c.task(id);
      int lostAttempt = 0, completedAttempt = 0;
      for (JsonNode h : t.path("history")) {
        if (h.path("event").asText().equals("AttemptFailed")
            && h.path("nodeId").asText().equals(nodeId)) lostAttempt = h.path("attempt").asInt();
        if (h.path("event").asText().equals("Completed"))
          completedAttempt = h.path("attempt").asInt();
      }
      assertTrue(
          lostAttempt > 0 && completedAttempt > lostAttempt,
          "the attempt on " + nodeId + " was replaced, and only the replacement recorded: " + t);
    }
  }

  @Test
  void aFrozenWorkersJobsRunElsewhereItsLateResultsAreRefusedAndItRejoinsToTakeWorkAgain()
      throws Exception {
    ApiClient c = coordinatorAndTwoWorkers();
    AnchorProcess w1 = cluster.worker("w1");
    List<String> ids = submitBusy(c, 0, 30, 3000);
    // w1 holds running jobs when it freezes
    List<String> onW1 = c.awaitRunningOn(ids, "w1", Duration.ofMinutes(3));
    w1.frozen(
        () -> {
          // frozen past the down-after time (4 s here): the cluster downs it and its jobs run again
          // on w2
          c.awaitTask(onW1.get(0), Duration.ofMinutes(2), t -> attemptFailedOn(t, "w1"));
          assertTrue(!c.nodeStatus("w1").equals("Online"), "w1 still online while frozen");
          // its jobs were handed on when it became unreachable; it is downed (removed) 4 s later
          return cluster.node().awaitOutput("node w1 left the cluster", Duration.ofMinutes(1));
        });
    // the JVM stays up and comes back as w1 with a new actor system
    Poll.until(
        "w1 online again",
        Duration.ofMinutes(3),
        () -> {
          assertTrue(
              w1.process.isAlive(),
              "the downed worker exited instead of rejoining:\n" + w1.output());
          return c.nodeStatus("w1").equals("Online");
        });
    assertEquals("Online", c.nodeStatus("w1"), w1.output());
    assertTrue(w1.output().contains("starting a new actor system"), w1.output());

    c.awaitCompleted(ids, ids.size(), Duration.ofMinutes(5));
    for (int i = 0; i < ids.size(); i++) {
      JsonNode t = c.task(ids.get(i));
      assertEquals(String.valueOf(i * 3), t.path("result").asText(), t.toString());
      assertEquals(1, completions(t), "recorded once: " + t);
    }
    // w1's attempt was given up when it was downed; the result that counts is the attempt that
    // replaced it (w1 reports its own once it wakes up, or its new incarnation runs the job again:
    // refused, not recorded)
    assertReplacedAfterLossOn(c, onW1, "w1");

    // and it takes work again
    List<String> more = submitBusy(c, 100, 18, 1000);
    c.awaitCompleted(more, more.size(), Duration.ofMinutes(3));
    long onRejoined = 0;
    for (String id : more) if (c.task(id).path("nodeId").asText().equals("w1")) onRejoined++;
    assertTrue(onRejoined > 0, "the rejoined worker took none of 18 tasks");
  }
}
