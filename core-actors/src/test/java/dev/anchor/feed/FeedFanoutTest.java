package dev.anchor.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anchor.queue.RealRedis;
import io.lettuce.core.RedisClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Every client of the shared feed reader sees every change once, in order, wherever it starts. */
class FeedFanoutTest {
  @RegisterExtension static final RealRedis redis = new RealRedis();
  static RedisClient client;
  static ExecutorService blocking = Executors.newCachedThreadPool();

  @BeforeAll
  static void connect() {
    client = redis.client();
  }

  @AfterAll
  static void stop() {
    blocking.shutdownNow();
  }

  /** Reads {@code n} entries after {@code from}, as an event stream does, batch by batch. */
  static List<String> read(FeedFanout f, String from, int n) throws Exception {
    List<String> out = new ArrayList<>();
    String after = from;
    while (out.size() < n) {
      List<FeedEntry> batch = f.after(after, 7).toCompletableFuture().get(10, TimeUnit.SECONDS);
      for (FeedEntry e : batch) out.add(e.subjectId());
      after = batch.get(batch.size() - 1).id();
    }
    return out;
  }

  @Test
  void liveAndResumingClientsSeeEveryChangeOnceInOrder() throws Exception {
    try (ChangeFeed feed = new ChangeFeed(client, 100_000)) {
      String before = feed.lastId();
      for (int i = 0; i < 10; i++) feed.publish("task", "old-" + i, "Submitted", "{}");
      // kept in memory: only the last 5 entries; older ones come from Redis
      try (FeedFanout fanout = new FeedFanout(feed, client, blocking, 5)) {
        String live = fanout.position();
        var waiting = blocking.submit(() -> read(fanout, live, 20));
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
          feed.publish("task", "new-" + i, "Submitted", "{}");
          expected.add("new-" + i);
        }
        assertEquals(expected, waiting.get(10, TimeUnit.SECONDS), "a live client");

        List<String> all = new ArrayList<>();
        for (int i = 0; i < 10; i++) all.add("old-" + i);
        all.addAll(expected);
        assertEquals(
            all, read(fanout, before, 30), "a client resuming from before the reader started");
        assertEquals(
            expected.subList(12, 20),
            read(fanout, idOf(feed, before, 22), 8),
            "one resuming from the kept part");
      }
    }
  }

  /** The id of the {@code n}-th entry after {@code from}. */
  static String idOf(ChangeFeed feed, String from, int n) {
    try (ChangeFeed.Tail t = feed.tail(client)) {
      return t.next(from, n, java.time.Duration.ofMillis(100)).get(n - 1).id();
    }
  }

  @Test
  void streamIdsAreOrderedByTimeThenSequence() {
    assertEquals(-1, Integer.signum(FeedFanout.compare("5-9", "6-0")));
    assertEquals(-1, Integer.signum(FeedFanout.compare("5-9", "5-10")));
    assertEquals(0, FeedFanout.compare("0-0", "0-0"));
    assertEquals(1, Integer.signum(FeedFanout.compare("10-0", "9-99")));
  }
}
