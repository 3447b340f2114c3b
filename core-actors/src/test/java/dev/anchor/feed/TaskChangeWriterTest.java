package dev.anchor.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anchor.queue.RealRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** One task change written in one script call, against a real redis-server. */
class TaskChangeWriterTest {
  @RegisterExtension static final RealRedis redis = new RealRedis();
  static RedisClient client;
  static StatefulRedisConnection<String, String> conn;

  @BeforeAll
  static void connect() {
    client = redis.client();
    conn = redis.connection();
  }

  @Test
  void aChangeReachesTheFeedTheListingAndTheCounters() throws Exception {
    try (TaskChangeWriter w = new TaskChangeWriter(client, 1000, "test:stats");
        ChangeFeed feed = new ChangeFeed(client, 1000);
        TaskIndex index = new TaskIndex(client)) {
      String before = feed.lastId();
      String id1 =
          w.write("t-a", "Submitted", "{\"s\":1}", "{\"status\":\"Queued\"}", 5L)
              .toCompletableFuture()
              .get();
      String id2 =
          w.write("t-a", "Completed", "{\"s\":2}", "{\"status\":\"Completed\"}", 5L)
              .toCompletableFuture()
              .get();
      w.write("t-a", "Started", "{\"s\":3}", "{\"status\":\"Running\"}", null)
          .toCompletableFuture()
          .get();

      try (ChangeFeed.Tail tail = feed.tail(client)) {
        List<FeedEntry> read = tail.next(before, 10, Duration.ofMillis(200));
        assertEquals(List.of(id1, id2), read.subList(0, 2).stream().map(FeedEntry::id).toList());
        assertEquals(new FeedEntry(id2, "task", "t-a", "Completed", "{\"s\":2}"), read.get(1));
      }
      assertEquals(List.of("{\"status\":\"Running\"}"), index.newest(10, s -> !s.equals("{}")));
      // the counters follow the summaries: Queued, then Completed, then Running (a later change
      // wins)
      assertEquals("1", conn.sync().hget("test:stats", "task:Running"));
      assertEquals("0", conn.sync().hget("test:stats", "task:Completed"));
      assertEquals("0", conn.sync().hget("test:stats", "task:Queued"));
    }
  }

  @Test
  void itKeepsWorkingAfterRedisForgetsItsScripts() throws Exception {
    try (TaskChangeWriter w = new TaskChangeWriter(client, 1000, "test:stats2")) {
      w.write("t-b", "Submitted", "{}", "{\"status\":\"Queued\"}", 1L).toCompletableFuture().get();
      conn.sync().scriptFlush(); // what a Redis restart does
      w.write("t-b", "Failed", "{}", "{\"status\":\"Failed\",\"nodeId\":\"n1\"}", 1L)
          .toCompletableFuture()
          .get();
      assertEquals("1", conn.sync().hget("test:stats2", "task:Failed"));
      assertEquals("1", conn.sync().hget("test:stats2", "node:n1:Failed"));
    }
  }

  @Test
  void changesWrittenTogetherKeepTheirOrderAndEachGetsItsFeedEntry() throws Exception {
    try (TaskChangeWriter w = new TaskChangeWriter(client, 10_000, "test:stats3");
        ChangeFeed feed = new ChangeFeed(client, 10_000)) {
      String before = feed.lastId();
      List<java.util.concurrent.CompletableFuture<String>> ids = new java.util.ArrayList<>();
      // far more than one call carries: they go in several calls, in order
      for (int i = 0; i < 1000; i++) {
        String task = "t-c" + (i % 10);
        String status = i < 990 ? "Running" : "Completed";
        ids.add(
            w.write(task, "E" + i, "{\"i\":" + i + "}", "{\"status\":\"" + status + "\"}", (long) i)
                .toCompletableFuture());
      }
      java.util.concurrent.CompletableFuture.allOf(
              ids.toArray(java.util.concurrent.CompletableFuture[]::new))
          .get(30, java.util.concurrent.TimeUnit.SECONDS);
      try (ChangeFeed.Tail tail = feed.tail(client)) {
        List<FeedEntry> read = new java.util.ArrayList<>();
        String from = before;
        while (read.size() < 1000) {
          List<FeedEntry> more = tail.next(from, 500, Duration.ofMillis(200));
          if (more.isEmpty()) break;
          read.addAll(more);
          from = more.get(more.size() - 1).id();
        }
        assertEquals(1000, read.size());
        for (int i = 0; i < 1000; i++) {
          assertEquals("E" + i, read.get(i).event());
          assertEquals(ids.get(i).get(), read.get(i).id());
        }
      }
      // every task's last change decides its state: all ten ended Completed
      assertEquals("10", conn.sync().hget("test:stats3", "task:Completed"));
      assertEquals("0", conn.sync().hget("test:stats3", "task:Running"));
    }
  }
}
