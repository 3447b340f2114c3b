package dev.anchor.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.queue.RealRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Ended tasks leave Redis's listing by age and count, open ones never, against a real redis-server.
 */
class TaskRetentionTest {
  private static final String STATS = "test:retention-stats";
  private static final String DEAD = "test:retention-dead";
  private static final long HOUR = 3_600_000L;

  @RegisterExtension static final RealRedis redis = new RealRedis();
  static RedisClient client;
  static StatefulRedisConnection<String, String> conn;

  @BeforeAll
  static void connect() {
    client = redis.client();
    conn = redis.connection();
  }

  @BeforeEach
  void empty() {
    conn.sync().flushall();
  }

  private static void write(
      TaskChangeWriter w, String id, String status, Long completedAt, boolean verified) {
    String summary =
        "{\"taskId\":\""
            + id
            + "\",\"status\":\""
            + status
            + "\",\"nodeId\":\"n1\""
            + (completedAt == null ? ",\"completedAt\":null" : ",\"completedAt\":" + completedAt)
            + (verified ? ",\"verified\":true" : "")
            + "}";
    w.write(id, status, summary, summary, completedAt == null ? 1L : completedAt)
        .toCompletableFuture()
        .join();
  }

  private static long count(String field) {
    String v = conn.sync().hget(STATS, field);
    return v == null ? 0 : Long.parseLong(v);
  }

  @Test
  void endedTasksOlderThanTheirAgeLeaveTheListingAndOpenOnesStay() {
    long now = 100 * HOUR;
    try (TaskChangeWriter w = new TaskChangeWriter(client, 1000, STATS);
        TaskRetention retention =
            new TaskRetention(
                client,
                STATS,
                DEAD,
                new TaskRetention.Limits(
                    Duration.ofHours(1), 1000, Duration.ofHours(24), 1000, 2))) {
      write(w, "old-done", "Completed", now - 2 * HOUR, true);
      write(w, "new-done", "Completed", now - HOUR / 2, false);
      write(w, "old-failed", "Failed", now - 30 * HOUR, false);
      write(w, "recent-failed", "Failed", now - 2 * HOUR, false);
      write(w, "old-cancelled", "Cancelled", now - 25 * HOUR, false);
      // open tasks, however old, are never trimmed
      write(w, "queued", "Queued", null, false);
      write(w, "running", "Running", null, false);
      // ended long ago, then written again as open (a change replayed after a restart): it stays
      write(w, "reopened", "Completed", now - 50 * HOUR, false);
      write(w, "reopened", "Running", null, false);

      TaskRetention.Trimmed t = retention.trim(now);

      assertEquals(1, t.completed());
      assertEquals(2, t.failed());
      RedisCommands<String, String> s = conn.sync();
      assertEquals(
          Set.of("new-done", "recent-failed", "queued", "running", "reopened"),
          Set.copyOf(s.hkeys(TaskIndex.SUMMARIES)));
      assertEquals(
          Set.of("new-done", "recent-failed", "queued", "running", "reopened"),
          Set.copyOf(s.zrange(TaskIndex.BY_TIME, 0, -1)));
      // the counters stay the histogram of what is listed
      assertEquals(1, count("task:Completed"));
      assertEquals(0, count("consensus:Completed"));
      assertEquals(1, count("task:Failed"));
      assertEquals(0, count("task:Cancelled"));
      assertEquals(1, count("task:Queued"));
      assertEquals(2, count("task:Running"));
      // per-node totals of finished runs are kept
      assertEquals(3, count("node:n1:Completed"));
      // nothing else to do: a second pass removes nothing, and "reopened" is no longer waiting to
      // be trimmed
      assertEquals(new TaskRetention.Trimmed(0, 0, 0), retention.trim(now));
      assertEquals(Set.of("new-done"), Set.copyOf(s.zrange(TaskRetention.ENDED_COMPLETED, 0, -1)));
    }
  }

  @Test
  void beyondTheCountTheOldestEndedTasksGoInBatches() {
    long now = 100 * HOUR;
    try (TaskChangeWriter w = new TaskChangeWriter(client, 1000, STATS);
        TaskRetention retention =
            new TaskRetention(
                client,
                STATS,
                DEAD,
                new TaskRetention.Limits(Duration.ZERO, 10, Duration.ZERO, 3, 7))) {
      for (int i = 0; i < 50; i++) write(w, "done-" + i, "Completed", now - 1000 + i, false);
      for (int i = 0; i < 5; i++) write(w, "failed-" + i, "Failed", now - 1000 + i, false);
      for (int i = 0; i < 20; i++) write(w, "open-" + i, "Queued", null, false);

      TaskRetention.Trimmed t = retention.trim(now);

      assertEquals(40, t.completed());
      assertEquals(2, t.failed());
      RedisCommands<String, String> s = conn.sync();
      Map<String, String> left = s.hgetall(TaskIndex.SUMMARIES);
      assertEquals(10 + 3 + 20, left.size());
      // the newest are kept
      for (int i = 40; i < 50; i++) assertTrue(left.containsKey("done-" + i), "done-" + i);
      for (int i = 0; i < 40; i++) assertFalse(left.containsKey("done-" + i), "done-" + i);
      assertTrue(left.containsKey("failed-4") && !left.containsKey("failed-1"));
      assertEquals(10, count("task:Completed"));
      assertEquals(20, count("task:Queued"));
      assertNull(s.hget(TaskIndex.SUMMARIES, "done-0"));
    }
  }

  @Test
  void tasksThatEndedBeforeRetentionExistedAreTrimmedToo() {
    long now = 100 * HOUR;
    RedisCommands<String, String> s = conn.sync();
    // the listing as an older version wrote it: summaries and submission order, no retention order
    for (int i = 0; i < 30; i++) {
      s.hset(
          TaskIndex.SUMMARIES,
          "old-" + i,
          "{\"taskId\":\"old-"
              + i
              + "\",\"status\":\"Completed\",\"completedAt\":"
              + (now - 48 * HOUR + i)
              + "}");
      s.zadd(TaskIndex.BY_TIME, now - 50 * HOUR + i, "old-" + i);
    }
    s.hset(
        TaskIndex.SUMMARIES,
        "old-failed",
        "{\"status\":\"Failed\",\"submittedAt\":" + (now - 20 * HOUR) + ",\"completedAt\":null}");
    s.hset(TaskIndex.SUMMARIES, "old-queued", "{\"status\":\"Queued\",\"submittedAt\":1}");
    s.hset(STATS, "task:Completed", "30");
    try (TaskRetention retention =
        new TaskRetention(
            client,
            STATS,
            DEAD,
            new TaskRetention.Limits(Duration.ofHours(24), 1000, Duration.ofHours(10), 1000, 7))) {
      TaskRetention.Trimmed t = retention.trim(now);
      assertEquals(30, t.completed());
      assertEquals(1, t.failed());
      assertEquals(Set.of("old-queued"), Set.copyOf(s.hkeys(TaskIndex.SUMMARIES)));
      assertEquals(0, count("task:Completed"));
      assertEquals("done", s.get(TaskRetention.BACKFILL));
    }
  }

  @Test
  void theDeadLetterStreamIsTrimmedByTheFailedLimits() {
    try (TaskRetention retention =
        new TaskRetention(
            client,
            STATS,
            DEAD,
            new TaskRetention.Limits(Duration.ZERO, 10, Duration.ofHours(1), 1000, 100))) {
      RedisCommands<String, String> s = conn.sync();
      long now = System.currentTimeMillis();
      s.xadd(
          DEAD,
          new io.lettuce.core.XAddArgs().id((now - 3 * HOUR) + "-0"),
          Map.of("taskId", "old"));
      s.xadd(
          DEAD,
          new io.lettuce.core.XAddArgs().id((now - 2 * HOUR) + "-0"),
          Map.of("taskId", "older"));
      for (int i = 0; i < 3; i++) s.xadd(DEAD, Map.of("taskId", "recent-" + i));

      assertEquals(2, retention.trim(now).deadLetters());
      assertEquals(3, s.xlen(DEAD));
    }
    try (TaskRetention byCount =
        new TaskRetention(
            client,
            STATS,
            DEAD,
            new TaskRetention.Limits(Duration.ZERO, 10, Duration.ZERO, 1, 100))) {
      assertEquals(2, byCount.trim(System.currentTimeMillis()).deadLetters());
      assertEquals(1, conn.sync().xlen(DEAD));
    }
  }
}
