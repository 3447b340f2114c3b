package dev.anchor.app;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.List;

/**
 * The ids of the apps for GET /api/clusters, oldest first (a Redis sorted set scored by creation
 * time). The app entities stay the source of truth: the list asks each of them for its view.
 */
public final class AppIndex implements AutoCloseable {
  static final String KEY = "anchor:apps";
  private final StatefulRedisConnection<String, String> conn;

  public AppIndex(RedisClient client) {
    this.conn = client.connect();
  }

  public void add(String appId, long createdAt) {
    conn.sync().zadd(KEY, createdAt, appId);
  }

  public void remove(String appId) {
    conn.sync().zrem(KEY, appId);
  }

  public List<String> ids(int limit) {
    return conn.sync().zrange(KEY, 0, Math.max(0, limit - 1));
  }

  @Override
  public void close() {
    conn.close();
  }
}
