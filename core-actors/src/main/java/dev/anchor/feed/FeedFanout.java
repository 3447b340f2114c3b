package dev.anchor.feed;

import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One reader of the change feed per JVM, shared by every event-stream client: it keeps the newest
 * entries in memory, and a client asks for what follows the id it has seen. A client that fell
 * behind the kept entries (a slow one, or one resuming from an old Last-Event-ID) reads those from
 * Redis instead, so nobody misses or repeats an entry, and Redis is read once per change however
 * many clients watch.
 */
public final class FeedFanout implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FeedFanout.class);

  private final ChangeFeed.Tail tail;
  private final StatefulRedisConnection<String, String> history;
  private final Executor blocking;
  private final int keep;
  private final Thread reader;

  /** Contiguous newest entries of the stream, oldest first; guarded by this. */
  private final ArrayDeque<Kept> kept = new ArrayDeque<>();

  /** An entry with its id parsed once. */
  private record Kept(long ms, long seq, FeedEntry entry) {
    static Kept of(FeedEntry e) {
      long[] id = parse(e.id());
      return new Kept(id[0], id[1], e);
    }

    boolean after(long[] id) {
      return ms != id[0] ? ms > id[0] : seq > id[1];
    }
  }

  /** Id of the newest entry read (or where reading started); guarded by this. */
  private String newest;

  /** Completed (and replaced) when entries arrive; guarded by this. */
  private CompletableFuture<Void> arrival = new CompletableFuture<>();

  private volatile boolean running = true;

  public FeedFanout(ChangeFeed feed, RedisClient client, Executor blocking, int keep) {
    this.tail = feed.tail(client);
    this.history = client.connect();
    this.blocking = blocking;
    this.keep = keep;
    this.newest = feed.lastId();
    this.reader = Thread.ofPlatform().daemon().name("anchor-feed-reader").start(this::readLoop);
  }

  /** Where a client without a Last-Event-ID starts: after the newest entry read so far. */
  public synchronized String position() {
    return newest;
  }

  /**
   * The entries after {@code afterId} (at most {@code max}), once there are any. Completes with an
   * empty list only when the fanout is closed.
   */
  public CompletionStage<List<FeedEntry>> after(String afterId, int max) {
    CompletableFuture<Void> wait;
    synchronized (this) {
      if (!running) return CompletableFuture.completedFuture(List.of());
      FeedEntry first = kept.isEmpty() ? null : kept.peekFirst().entry();
      if (first == null || compare(afterId, first.id()) >= 0) {
        if (compare(afterId, newest) < 0 && first != null)
          return CompletableFuture.completedFuture(keptAfter(afterId, max));
        if (compare(afterId, newest) < 0)
          return fromRedis(afterId, max); // nothing kept yet, but Redis has more
        wait = arrival;
      } else {
        return fromRedis(afterId, max);
      }
    }
    return wait.thenCompose(v -> after(afterId, max));
  }

  /**
   * From the newest back to {@code afterId}: a client at the live edge looks at only what is new to
   * it.
   */
  private List<FeedEntry> keptAfter(String afterId, int max) {
    long[] after = parse(afterId);
    List<FeedEntry> newerFirst = new ArrayList<>();
    for (var it = kept.descendingIterator(); it.hasNext(); ) {
      Kept k = it.next();
      if (!k.after(after)) break;
      newerFirst.add(k.entry());
    }
    List<FeedEntry> out = new ArrayList<>(Math.min(max, newerFirst.size()));
    for (int i = newerFirst.size() - 1; i >= 0 && out.size() < max; i--) out.add(newerFirst.get(i));
    return out;
  }

  private CompletionStage<List<FeedEntry>> fromRedis(String afterId, int max) {
    return CompletableFuture.supplyAsync(
            () ->
                ChangeFeed.convert(
                    history
                        .sync()
                        .xrange(
                            ChangeFeed.STREAM,
                            Range.create("(" + afterId, "+"),
                            Limit.create(0, max))),
            blocking)
        .thenCompose(
            l -> {
              // trimmed past afterId, or an id from another feed: carry on from what is kept
              if (l.isEmpty()) {
                synchronized (this) {
                  FeedEntry first = kept.isEmpty() ? null : kept.peekFirst().entry();
                  if (first != null && compare(afterId, first.id()) < 0) {
                    return CompletableFuture.completedFuture(keptAfter(afterId, max));
                  }
                }
                return after(position(), max);
              }
              return CompletableFuture.completedFuture(l);
            });
  }

  private void readLoop() {
    String from;
    synchronized (this) {
      from = newest;
    }
    while (running) {
      try {
        List<FeedEntry> batch = tail.next(from, 1000, Duration.ofSeconds(2));
        if (batch.isEmpty()) continue;
        from = batch.get(batch.size() - 1).id();
        CompletableFuture<Void> done;
        synchronized (this) {
          for (FeedEntry e : batch) kept.addLast(Kept.of(e));
          while (kept.size() > keep) kept.pollFirst();
          newest = from;
          done = arrival;
          arrival = new CompletableFuture<>();
        }
        done.complete(null);
      } catch (RuntimeException e) {
        if (!running) break;
        log.warn("change feed reader: {}; retrying", e.toString());
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /** Orders Redis stream ids ("millis-seq"). */
  static int compare(String a, String b) {
    long[] x = parse(a), y = parse(b);
    return x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]);
  }

  static long[] parse(String id) {
    int d = id.indexOf('-');
    return d < 0
        ? new long[] {Long.parseLong(id), 0}
        : new long[] {Long.parseLong(id, 0, d, 10), Long.parseLong(id, d + 1, id.length(), 10)};
  }

  @Override
  public void close() {
    CompletableFuture<Void> done;
    synchronized (this) {
      running = false;
      done = arrival;
    }
    done.complete(null);
    try {
      reader.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tail.close();
    history.close();
  }
}
