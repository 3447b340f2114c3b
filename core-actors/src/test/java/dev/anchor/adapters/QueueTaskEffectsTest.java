package dev.anchor.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.queue.JobQueue;
import dev.anchor.queue.RealRedis;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.scheduling.NodeRegistry;
import dev.anchor.task.TaskEffects.Placement;
import dev.anchor.task.TaskSpec;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Where the coordinator puts jobs, against a real redis-server. */
class QueueTaskEffectsTest {
  @RegisterExtension static final RealRedis redis = new RealRedis();
  static JobQueue queue;

  @BeforeAll
  static void start() {
    queue = new JobQueue(redis.client());
  }

  @AfterAll
  static void stop() {
    if (queue != null) queue.close();
  }

  private static final TaskSpec SPEC = TaskSpec.of("sum", "js", "1 + 1");

  private static NodeHeartbeat heartbeat(String node, int running) {
    return new NodeHeartbeat(
        node,
        "pekko://anchor@127.0.0.1:2552",
        "h-" + node,
        4,
        8192,
        false,
        null,
        List.of("js"),
        10,
        10,
        1,
        running,
        3,
        false,
        System.currentTimeMillis());
  }

  private static long held(String node) {
    return queue.depths().stream()
        .filter(d -> d.nodeId().equals(node))
        .mapToLong(d -> d.waiting() + d.active())
        .sum();
  }

  private static Placement dispatch(QueueTaskEffects fx, String task, int attempt)
      throws Exception {
    return fx.dispatch(task, attempt, SPEC).toCompletableFuture().get();
  }

  @Test
  void aBusyNodesStreamsHoldItsCapacityPlusThePrefetchAcrossHeartbeats() throws Exception {
    NodeRegistry registry = new NodeRegistry(15_000, 2);
    QueueTaskEffects fx =
        new QueueTaskEffects(registry, queue, null, c -> {}, new ObjectMapper(), 0);
    String node = "busy-" + System.nanoTime();
    registry.heartbeat(heartbeat(node, 0));
    registry.memberUp("pekko://anchor@127.0.0.1:2552");
    String pool = QueueTaskEffects.poolOf(SPEC).id();
    try (JobQueue.Reader worker = queue.reader(node)) {
      for (int i = 0; i < 3; i++) dispatch(fx, node + "-run" + i, 1);
      assertEquals(3, worker.next(3, Duration.ofMillis(100)).size(), "it runs three long jobs");
      int placedOnNode = 0, parked = 0;
      // heartbeats every 2 s say it runs 3: each used to open room for two more on its stream
      for (int beat = 0; beat < 3; beat++) {
        registry.heartbeat(heartbeat(node, 3));
        for (int i = 0; i < 4; i++) {
          Placement p = dispatch(fx, node + "-b" + beat + "-" + i, 1);
          String on = ((Placement.Enqueued) p).nodeId();
          if (on.equals(node)) placedOnNode++;
          else if (on.equals(pool)) parked++;
        }
      }
      assertEquals(2, placedOnNode, "3 running + 2 prefetched");
      assertEquals(10, parked);
      assertEquals(5, held(node), "capacity 3 + prefetch 2, whatever the heartbeats said");
      // a job run before goes onto a node only where a slot is free now
      assertEquals(new Placement.Enqueued(pool, false, false), dispatch(fx, node + "-retry", 2));
      assertEquals(5, held(node));
    }
  }

  @Test
  void aReplicaOfARequestedVerificationGoesToANodeWithRoomOrWaits() throws Exception {
    NodeRegistry registry = new NodeRegistry(15_000, 2);
    QueueTaskEffects fx =
        new QueueTaskEffects(registry, queue, null, c -> {}, new ObjectMapper(), 0);
    String full = "full-" + System.nanoTime(), free = "free-" + System.nanoTime();
    registry.heartbeat(heartbeat(full, 0));
    registry.heartbeat(heartbeat(free, 3));
    registry.memberUp("pekko://anchor@127.0.0.1:2552");
    for (int i = 0; i < 5; i++)
      queue
          .place(full, new dev.anchor.queue.JobMessage(full + i, 1, 0, "{}"), null, 5)
          .toCompletableFuture()
          .get();
    TaskSpec verified =
        SPEC.withVerification(TaskSpec.Verification.of(2, 2, 4, TaskSpec.Verification.FIXED));
    // the registry finds "full" the less loaded (its heartbeat says 0 running), but it holds 5
    var placed =
        fx.dispatchReplicas("v-" + full, List.of(1, 2), verified, java.util.Set.of())
            .toCompletableFuture()
            .get();
    assertEquals(
        List.of(
            new dev.anchor.task.TaskEffects.ReplicaPlacement(1, free, null),
            new dev.anchor.task.TaskEffects.ReplicaPlacement(2, null, QueueTaskEffects.FULL)),
        placed);
    assertEquals(5, held(full));
    assertEquals(1, held(free));
  }
}
