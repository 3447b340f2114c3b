package dev.anchor.scheduling;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The cluster addresses of Anchor JVMs seen recently, kept in Redis (hash {@value #KEY}: address →
 * last seen, epoch ms). A coordinator that restarts alone would otherwise form a new cluster of its
 * own while its workers stay in the old one without it; reading these addresses as extra seed nodes
 * lets it join the cluster that is still running.
 */
public final class ClusterMembers {
  public static final String KEY = "anchor:cluster:members";

  private ClusterMembers() {}

  /** Records that {@code address} is alive now. */
  public static void announce(StatefulRedisConnection<String, String> conn, String address) {
    conn.async().hset(KEY, address, Long.toString(System.currentTimeMillis()));
  }

  /** Addresses announced within {@code maxAge}, except {@code self}; older entries are removed. */
  public static List<String> recent(RedisClient client, Duration maxAge, String self) {
    List<String> out = new ArrayList<>();
    try (StatefulRedisConnection<String, String> conn = client.connect()) {
      long now = System.currentTimeMillis();
      for (Map.Entry<String, String> e : conn.sync().hgetall(KEY).entrySet()) {
        long seen;
        try {
          seen = Long.parseLong(e.getValue());
        } catch (NumberFormatException bad) {
          seen = 0;
        }
        if (now - seen > Duration.ofHours(1).toMillis()) conn.sync().hdel(KEY, e.getKey());
        else if (now - seen <= maxAge.toMillis() && !e.getKey().equals(self)) out.add(e.getKey());
      }
    }
    return out;
  }
}
