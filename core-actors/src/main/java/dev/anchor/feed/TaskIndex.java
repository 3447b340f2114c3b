package dev.anchor.feed;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;

/**
 * A listing of tasks for GET /api/tasks: each task's latest summary (JSON) in a Redis hash, ordered
 * by submission time in a sorted set, both written by {@link TaskChangeWriter} with each task
 * change. Entities stay the source of truth; this is only what a list needs.
 */
public final class TaskIndex implements AutoCloseable {
  static final String SUMMARIES = "anchor:tasks";
  static final String BY_TIME = "anchor:tasks:recent";
  private final StatefulRedisConnection<String, String> conn;

  public TaskIndex(RedisClient client) {
    this.conn = client.connect();
  }

  /**
   * Newest first; {@code accept} filters (e.g. by status) and the scan stops once {@code limit}
   * matched.
   */
  public List<String> newest(int limit, java.util.function.Predicate<String> accept) {
    List<String> out = new ArrayList<>();
    int page = Math.max(100, limit * 2);
    long start = 0;
    var s = conn.sync();
    while (out.size() < limit) {
      List<String> ids = s.zrevrange(BY_TIME, start, start + page - 1);
      if (ids.isEmpty()) break;
      for (var kv : s.hmget(SUMMARIES, ids.toArray(String[]::new))) {
        if (kv.hasValue() && accept.test(kv.getValue())) {
          out.add(kv.getValue());
          if (out.size() == limit) break;
        }
      }
      start += page;
    }
    return out;
  }

  @Override
  public void close() {
    conn.close();
  }
}
