package dev.anchor.feed;

import dev.anchor.queue.RedisScript;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;

import java.util.concurrent.CompletionStage;

/**
 * Writes one task change to Redis in a single script call: its change-feed entry, its listing summary (and, on its
 * first and last change, its place in the submission order), the state counters it moves ({@link StatusCounts}:
 * the summary it replaces says which state the task leaves) and, when the task ended, its place in the order
 * {@link TaskRetention} trims by. Every task changes three
 * or four times, so one round trip and one command per change instead of four is most of what the feed costs.
 */
public final class TaskChangeWriter implements AutoCloseable {
  private static final RedisScript WRITE = new RedisScript(StatusCounts.LUA_FUNCTIONS + """
      local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
        'kind', 'task', 'id', ARGV[2], 'event', ARGV[3], 'json', ARGV[4])
      local old = redis.call('HGET', KEYS[2], ARGV[2])
      redis.call('HSET', KEYS[2], ARGV[2], ARGV[5])
      if ARGV[6] ~= '' then redis.call('ZADD', KEYS[3], ARGV[6], ARGV[2]) end
      moveTask(KEYS[4], old or nil, ARGV[5])
      local now = taskState(ARGV[5])
      if now == 'Completed' or now == 'Failed' or now == 'Cancelled' then
        -- its place in the retention order (TaskRetention): when it ended
        local endedAt = string.match(ARGV[5], '"completedAt":(%d+)') or ARGV[7]
        redis.call('ZADD', now == 'Completed' and KEYS[5] or KEYS[6], endedAt, ARGV[2])
      end
      return id
      """, ScriptOutputType.VALUE);

  private final StatefulRedisConnection<String, String> conn;
  private final String[] keys;
  private final String maxLen;

  /** @param countersKey the hash of state counters ({@link StatusCounts}) */
  public TaskChangeWriter(RedisClient client, long feedMaxLen, String countersKey) {
    this.conn = client.connect();
    this.keys = new String[] {ChangeFeed.STREAM, TaskIndex.SUMMARIES, TaskIndex.BY_TIME, countersKey,
        TaskRetention.ENDED_COMPLETED, TaskRetention.ENDED_FAILED};
    this.maxLen = Long.toString(feedMaxLen);
  }

  /**
   * @param orderAt   the task's submission time to (re)place it in the listing order, or null to leave it
   * @return the feed entry's id
   */
  public CompletionStage<String> write(String taskId, String event, String json, String summaryJson, Long orderAt) {
    return WRITE.call(conn.async(), keys, maxLen, taskId, event, json, summaryJson,
        orderAt == null ? "" : orderAt.toString(), Long.toString(System.currentTimeMillis()));
  }

  @Override
  public void close() {
    conn.close();
  }
}
