package dev.anchor.feed;

import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XAddArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Every task and node change, in order, on a capped Redis stream. Stream ids are the
 * server-sent-event ids, so a client reconnecting with Last-Event-ID reads on from exactly where it
 * stopped, whichever coordinator it reaches.
 */
public final class ChangeFeed implements AutoCloseable {
  public static final String STREAM = "anchor:events";
  private final StatefulRedisConnection<String, String> conn;
  private final long maxLen;

  public ChangeFeed(RedisClient client, long maxLen) {
    this.conn = client.connect();
    this.maxLen = maxLen;
  }

  public void publish(String kind, String subjectId, String event, String json) {
    conn.async()
        .xadd(
            STREAM,
            XAddArgs.Builder.maxlen(maxLen).approximateTrimming(),
            Map.of("kind", kind, "id", subjectId, "event", event, "json", json));
  }

  /** The id of the newest entry, or "0-0" when the feed is empty: live readers start after it. */
  public String lastId() {
    List<StreamMessage<String, String>> last =
        conn.sync().xrevrange(STREAM, Range.create("-", "+"), Limit.create(0, 1));
    return last.isEmpty() ? "0-0" : last.get(0).getId();
  }

  /** A blocking tail on its own connection, for one reader thread. */
  public Tail tail(RedisClient client) {
    return new Tail(client.connect());
  }

  static List<FeedEntry> convert(List<StreamMessage<String, String>> msgs) {
    List<FeedEntry> out = new ArrayList<>(msgs.size());
    for (StreamMessage<String, String> m : msgs) {
      Map<String, String> b = m.getBody();
      out.add(new FeedEntry(m.getId(), b.get("kind"), b.get("id"), b.get("event"), b.get("json")));
    }
    return out;
  }

  @Override
  public void close() {
    conn.close();
  }

  public static final class Tail implements AutoCloseable {
    private final StatefulRedisConnection<String, String> conn;

    private Tail(StatefulRedisConnection<String, String> conn) {
      this.conn = conn;
    }

    @SuppressWarnings("unchecked")
    public List<FeedEntry> next(String afterId, int count, Duration block) {
      return convert(
          conn.sync()
              .xread(
                  XReadArgs.Builder.count(count).block(block),
                  XReadArgs.StreamOffset.from(STREAM, afterId)));
    }

    @Override
    public void close() {
      conn.close();
    }
  }
}
