package dev.anchor.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anchor.queue.JobQueue;
import dev.anchor.queue.QueueStats;
import dev.anchor.queue.RealRedis;
import dev.anchor.task.TaskView;
import dev.anchor.task.VerificationView;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The state counts of /api/queue/stats against a real redis-server: a known workload of task
 * changes (as QueueTaskEffects writes them) and DAG changes, repeated writes, a "restart" (new
 * clients) and a rebuild from the task index after the counters were lost.
 */
class StatusCountsTest {
  @RegisterExtension static final RealRedis redis = new RealRedis();
  static RedisClient client;
  static StatefulRedisConnection<String, String> conn;

  @BeforeAll
  static void connect() {
    client = redis.client();
    conn = redis.connection();
  }

  private static final VerificationView VERIFIED =
      new VerificationView(3, 2, 5, "fixed", null, null, List.of(), List.of(), List.of());

  private static TaskView view(
      String id, String status, String nodeId, Long nextRetryAt, VerificationView v) {
    return new TaskView(
        id,
        "t",
        "script",
        status,
        null,
        null,
        null,
        null,
        1,
        nodeId,
        1L,
        null,
        null,
        nextRetryAt,
        null,
        0,
        "js",
        List.of(),
        v);
  }

  private static void write(TaskChangeWriter w, TaskView v) throws Exception {
    w.write(v.taskId(), "x", "{}", TaskJson.summary(v), 1L).toCompletableFuture().get();
  }

  @Test
  void countsFollowAKnownWorkloadSurviveARestartAndAreRebuiltFromTheIndex() throws Exception {
    conn.sync().flushdb(); // the other test writes to the same task index
    long later = System.currentTimeMillis() + 60_000;
    QueueStats before;
    try (TaskChangeWriter w = new TaskChangeWriter(client, 1000, JobQueue.COUNTERS);
        StatusCounts counts = new StatusCounts(client, JobQueue.COUNTERS);
        JobQueue queue = new JobQueue(client)) {
      assertEquals(0, counts.rebuild(), "an empty index counts nothing and marks the counters");
      assertEquals(-1, counts.rebuild(), "the second start has nothing to do");
      // t1: completed on n1
      write(w, view("t1", "Queued", null, null, null));
      write(w, view("t1", "Running", "n1", null, null));
      write(w, view("t1", "Completed", "n1", null, null));
      // t2: fails once, waits for its retry (delayed), runs again and fails for good on n2
      write(w, view("t2", "Queued", null, null, null));
      write(w, view("t2", "Running", "n2", null, null));
      write(w, view("t2", "Queued", "n2", later, null));
      assertEquals(
          Map.of(
              "waiting",
              0L,
              "active",
              0L,
              "completed",
              1L,
              "failed",
              0L,
              "delayed",
              1L,
              "cancelled",
              0L),
          queue.stats().tasks());
      write(w, view("t2", "Queued", "n2", 1L, null)); // RetryDue: nextRetryAt kept but past
      write(w, view("t2", "Running", "n2", 1L, null));
      write(w, view("t2", "Failed", "n2", 1L, null));
      // t3: verified, waits (one node cannot hold two replicas); t4: verified, done; t5: cancelled
      // while queued
      write(w, view("t3", "Queued", null, null, VERIFIED));
      write(w, view("t4", "Queued", null, null, VERIFIED));
      write(w, view("t4", "Running", "n1", null, VERIFIED));
      write(w, view("t4", "Completed", "n1", null, VERIFIED));
      write(w, view("t5", "Queued", null, null, null));
      write(w, view("t5", "Cancelled", null, null, null));
      // t6: becomes verified after submission (a spot-check): counted under consensus from then on
      write(w, view("t6", "Queued", null, null, null));
      write(w, view("t6", "Running", "n2", null, VERIFIED));
      // a change written twice (a coordinator that restarts announces again) counts once
      write(w, view("t1", "Completed", "n1", null, null));
      counts.dag("d1", "Waiting").toCompletableFuture().get();
      counts.dag("d1", "Active").toCompletableFuture().get();
      counts.dag("d1", "Active").toCompletableFuture().get();
      counts.dag("d1", "Completed").toCompletableFuture().get();
      counts.dag("d2", "Waiting").toCompletableFuture().get();
      counts.dag("d3", "Waiting").toCompletableFuture().get();
      counts.dag("d3", "Active").toCompletableFuture().get();
      before = queue.stats();
    }
    assertEquals(
        Map.of(
            "waiting",
            1L,
            "active",
            1L,
            "completed",
            2L,
            "failed",
            1L,
            "delayed",
            0L,
            "cancelled",
            1L),
        before.tasks());
    assertEquals(
        Map.of("waiting", 1L, "active", 1L, "completed", 1L, "failed", 0L, "cancelled", 0L),
        before.dag());
    assertEquals(
        Map.of("waiting", 1L, "active", 1L, "completed", 1L, "failed", 0L), before.consensus());
    assertEquals(2, before.queues().get("node:n1").completed());
    assertEquals(1, before.queues().get("node:n2").failed());
    assertEquals(2, before.total().completed());
    assertEquals(1, before.total().failed());

    // a restart: new clients read the same counts
    try (JobQueue queue = new JobQueue(client);
        StatusCounts counts = new StatusCounts(client, JobQueue.COUNTERS)) {
      assertEquals(-1, counts.rebuild());
      assertEquals(before, queue.stats());
      // the counters lost (or written by an older version): rebuilt from the task index and the DAG
      // states
      conn.sync().del(JobQueue.COUNTERS);
      assertEquals(6, counts.rebuild());
      assertEquals(before, queue.stats());
    }
  }

  @Test
  void aStatusInsideTheNameDoesNotFoolTheCounter() throws Exception {
    try (TaskChangeWriter w = new TaskChangeWriter(client, 1000, "test:names")) {
      TaskView v =
          new TaskView(
              "tn",
              "\"status\":\"Completed\"",
              "script",
              "Queued",
              null,
              null,
              null,
              null,
              0,
              "we\"ird",
              1L,
              null,
              null,
              null,
              null,
              0,
              "js",
              List.of(),
              null);
      write(w, v);
      assertEquals("1", conn.sync().hget("test:names", "task:Queued"));
      assertEquals(null, conn.sync().hget("test:names", "task:Completed"));
    }
  }
}
