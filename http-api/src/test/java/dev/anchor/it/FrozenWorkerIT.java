package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker frozen (SIGSTOP) long enough for the failure detector to find it unreachable, but thawed
 * before it would be downed: its jobs are handed on while it is frozen and complete once, on the
 * other worker; thawed, it reads on from its own streams (which no longer hold them) without a
 * restart, and takes work again.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES)
@org.junit.jupiter.api.Disabled(
    "fails on main since the hand-on merge: after w1 came back within a second of being marked"
        + " unreachable (its spot-check replicas withdrawn), 1 of 40 tasks stayed open for 5 min;"
        + " issue 17, stop 24 note")
class FrozenWorkerIT {

  @RegisterExtension
  final AnchorCluster cluster =
      AnchorCluster.coordinator()
          .manual()
          // far longer than the freeze: this is the freeze that ends before the node is downed
          .env("ANCHOR_DOWN_AFTER", "60s")
          .workerEnv("ANCHOR_WORKER_CAPACITY", "3");

  @Test
  void aWorkerThawedBeforeItIsDownedHasItsJobsRunOnceElsewhereAndTakesWorkAgain() throws Exception {
    ApiClient c = cluster.startCoordinator().api();
    AnchorProcess w1 = cluster.startWorker("w1");
    cluster.startWorker("w2");
    c.awaitOnline(2, AnchorCluster.START_TIMEOUT);
    List<String> ids = submitBusy(c, 0, 40, 1500);
    List<String> onW1 =
        Poll.until(
            "a task running on w1",
            Duration.ofMinutes(3),
            () -> {
              List<String> running = new ArrayList<>();
              for (String id : ids) {
                JsonNode t = c.task(id);
                if (t.path("status").asText().equals("Running")
                    && t.path("nodeId").asText().equals("w1")) running.add(id);
              }
              return running;
            },
            running -> !running.isEmpty());
    AnchorProcess coordinator = cluster.node();
    long frozenAt = System.currentTimeMillis();
    w1.signal("STOP");
    long handedOnAfter;
    try {
      Poll.until(
          "the coordinator handed on w1's jobs",
          Duration.ofMinutes(1),
          coordinator::output,
          out -> out.contains("node w1 is unreachable"));
      handedOnAfter = System.currentTimeMillis() - frozenAt;
      assertEquals("Offline", c.nodeStatus("w1"), "an unreachable node takes no work");
      // the job it was running runs again on w2 while it is still frozen
      c.awaitTask(onW1.get(0), Duration.ofMinutes(2), t -> ClusterIT.attemptFailedOn(t, "w1"));
    } finally {
      w1.signal("CONT");
    }
    Poll.until(
        "w1 reachable and online again",
        Duration.ofMinutes(2),
        () -> c.nodeStatus("w1"),
        "Online"::equals);
    System.out.printf(
        "RESULT frozen-worker: freeze_to_handed_on_ms=%d (measured by polling the log)%n",
        handedOnAfter);

    c.awaitCompleted(ids, ids.size(), Duration.ofMinutes(5));
    for (int i = 0; i < ids.size(); i++) {
      JsonNode t = c.task(ids.get(i));
      assertEquals(String.valueOf(i * 3), t.path("result").asText(), t.toString());
      assertEquals(1, ClusterIT.completions(t), "recorded once: " + t);
    }
    for (String id : onW1) {
      JsonNode t = c.task(id);
      int lostAttempt = 0, completedAttempt = 0;
      for (JsonNode h : t.path("history")) {
        if (h.path("event").asText().equals("AttemptFailed")
            && h.path("nodeId").asText().equals("w1")) lostAttempt = h.path("attempt").asInt();
        if (h.path("event").asText().equals("Completed"))
          completedAttempt = h.path("attempt").asInt();
      }
      assertTrue(
          lostAttempt > 0 && completedAttempt > lostAttempt,
          "the frozen attempt was replaced, and only the replacement recorded: " + t);
    }
    assertFalse(
        w1.output().contains("starting a new actor system"),
        "w1 was never downed, so it did not restart:\n" + w1.output());

    List<String> more = submitBusy(c, 100, 18, 1000);
    c.awaitCompleted(more, more.size(), Duration.ofMinutes(3));
    long onThawed = 0;
    for (String id : more) if (c.task(id).path("nodeId").asText().equals("w1")) onThawed++;
    assertTrue(onThawed > 0, "the thawed worker took none of 18 tasks");
  }

  /** Tasks busy for {@code ms} of wall time each, so a worker frozen mid-run holds running jobs. */
  static List<String> submitBusy(ApiClient c, int from, int count, int ms) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      ids.add(
          c.submit(
              """
          {"name":"f%d","payload":{"runtime":"js","sourceCode":"const t0 = Date.now(); while (Date.now() - t0 < %d) {} input.n * 3"},"input":{"n":%d},"retries":{"attempts":5,"backoffMs":200}}
          """
                  .formatted(i, ms, i)));
    }
    return ids;
  }
}
