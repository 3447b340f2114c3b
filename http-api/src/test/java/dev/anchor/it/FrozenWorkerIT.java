package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker frozen (SIGSTOP) long enough for the failure detector to find it unreachable, but thawed
 * before it would be downed: its jobs are handed on while it is frozen and complete once, on the
 * other worker; thawed, it reads on from its own streams (which no longer hold them) without a
 * restart, and takes work again. Spot-checked tasks among them end with the other replica's result
 * when no third node can check it.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES)
class FrozenWorkerIT {

  @RegisterExtension
  final AnchorCluster cluster =
      AnchorCluster.coordinator()
          .manual()
          // far longer than the freeze: this is the freeze that ends before the node is downed
          .env("ANCHOR_DOWN_AFTER", "60s")
          // half the jobs on a not yet proven node are spot-checked (5% by default), so the freeze
          // lands on replicas too: a replica whose task's placement named the other one was dropped
          // unsaid and its task stayed open (issue 17)
          .env("ANCHOR_SPOT_CHECK_FRACTION", "0.5")
          .workerEnv("ANCHOR_WORKER_CAPACITY", "3");

  @Test
  void aWorkerThawedBeforeItIsDownedHasItsJobsRunOnceElsewhereAndTakesWorkAgain() throws Exception {
    ApiClient c = cluster.startCoordinator().api();
    AnchorProcess w1 = cluster.startWorker("w1");
    cluster.startWorker("w2");
    c.awaitOnline(2, AnchorCluster.START_TIMEOUT);
    List<String> ids = ClusterIT.submitBusy(c, 0, 40, 1500);
    List<String> onW1 = c.awaitRunningOn(ids, "w1", Duration.ofMinutes(3));
    long frozenAt = System.currentTimeMillis();
    long handedOnAfter =
        w1.frozen(
            () -> {
              cluster.node().awaitOutput("node w1 is unreachable", Duration.ofMinutes(1));
              long after = System.currentTimeMillis() - frozenAt;
              assertEquals("Offline", c.nodeStatus("w1"), "an unreachable node takes no work");
              // the job it was running runs again on w2 while it is still frozen
              c.awaitTask(
                  onW1.get(0), Duration.ofMinutes(2), t -> ClusterIT.attemptFailedOn(t, "w1"));
              return after;
            });
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
    ClusterIT.assertReplacedAfterLossOn(c, onW1, "w1");
    assertFalse(
        w1.output().contains("starting a new actor system"),
        "w1 was never downed, so it did not restart:\n" + w1.output());

    List<String> more = ClusterIT.submitBusy(c, 100, 18, 1000);
    c.awaitCompleted(more, more.size(), Duration.ofMinutes(3));
    long onThawed = 0;
    for (String id : more) if (c.task(id).path("nodeId").asText().equals("w1")) onThawed++;
    assertTrue(onThawed > 0, "the thawed worker took none of 18 tasks");
  }
}
