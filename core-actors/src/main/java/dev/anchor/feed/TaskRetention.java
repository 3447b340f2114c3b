package dev.anchor.feed;

import dev.anchor.queue.RedisScript;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.List;

/**
 * Keeps Redis from holding every task forever: ended tasks leave the listing ({@code anchor:tasks}
 * and {@code anchor:tasks:recent}) once they are older than their age limit or beyond their count
 * limit, as Bull's {@code removeOnComplete} / {@code removeOnFail} do; the dead-letter stream is
 * trimmed by the failed limits. An open task is never touched. The journal stays the source of
 * truth: {@code GET /api/tasks/{id}} of a trimmed task still answers from its entity; only the
 * listing and its counters forget it.
 *
 * <p>{@link TaskChangeWriter} puts each ended task into one of two sorted sets scored by when it
 * ended, in the script call it makes anyway, so a task change costs no extra round trip; {@link
 * #trim} runs periodically and removes the oldest in batches of {@code batch} per script call, so
 * Redis is never blocked for long.
 */
public final class TaskRetention implements AutoCloseable {
  static final String ENDED_COMPLETED = "anchor:tasks:ended:completed";

  /** Failed and cancelled tasks. */
  static final String ENDED_FAILED = "anchor:tasks:ended:failed";

  /**
   * How long and how many ended tasks the listing keeps; a zero count keeps none, a zero age keeps
   * them forever.
   */
  public record Limits(
      Duration completedAge, long completedCount, Duration failedAge, long failedCount, int batch) {
    public Limits {
      if (completedCount < 0 || failedCount < 0)
        throw new IllegalArgumentException("retention counts must not be negative");
      if (completedAge.isNegative() || failedAge.isNegative())
        throw new IllegalArgumentException("retention ages must not be negative");
      if (batch < 1) throw new IllegalArgumentException("retention batch must be at least 1");
    }
  }

  /**
   * KEYS: ended set, summaries, submission order, counters. ARGV: cutoff score (ended at or before
   * = too old, -1 for no age limit), count limit, batch. Removes up to batch of the oldest ended
   * tasks that are too old or beyond the count; a task whose summary is no longer an ended one
   * (written again as open) only leaves the ended set. Answers how many it looked at, so the caller
   * knows whether a full batch (more to do) was taken.
   */
  private static final RedisScript TRIM =
      new RedisScript(
          StatusCounts.LUA_FUNCTIONS
              + """
      local size = redis.call('ZCARD', KEYS[1])
      local old = 0
      if ARGV[1] ~= '-1' then old = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1]) end
      local n = math.max(old, size - tonumber(ARGV[2]))
      n = math.min(n, tonumber(ARGV[3]))
      if n <= 0 then return {0, 0} end
      local ids = redis.call('ZRANGE', KEYS[1], 0, n - 1)
      local removed = 0
      for _, id in ipairs(ids) do
        local s = redis.call('HGET', KEYS[2], id)
        local st = taskState(s)
        if st == 'Completed' or st == 'Failed' or st == 'Cancelled' then
          redis.call('HDEL', KEYS[2], id)
          redis.call('ZREM', KEYS[3], id)
          redis.call('HINCRBY', KEYS[4], 'task:' .. st, -1)
          if string.find(s, '"verified":true', 1, true) then redis.call('HINCRBY', KEYS[4], 'consensus:' .. st, -1) end
          removed = removed + 1
        end
        redis.call('ZREM', KEYS[1], id)
      end
      return {#ids, removed}
      """,
          ScriptOutputType.MULTI);

  /**
   * The dead-letter stream (one entry per task that failed for good) by the failed limits; exact
   * trimming, as it is small and trimmed once an interval.
   */
  private static final RedisScript TRIM_DEAD =
      new RedisScript(
          """
      local n = 0
      if ARGV[1] ~= '-1' then n = n + redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1]) end
      return n + redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[2])
      """,
          ScriptOutputType.INTEGER);

  /**
   * Where the backfill of tasks that ended before the retention order existed has got to ("done"
   * when finished).
   */
  static final String BACKFILL = "anchor:tasks:ended:backfill";

  /**
   * KEYS: backfill cursor, summaries, ended completed, ended failed. ARGV: HSCAN count, now. One
   * step of putting the ended tasks of the listing into the retention order (those written before
   * it existed), by when they ended (else when they were submitted, else now); answers how many
   * summaries it read, -1 once all were.
   */
  private static final RedisScript BACKFILL_STEP =
      new RedisScript(
          StatusCounts.LUA_FUNCTIONS
              + """
      local cursor = redis.call('GET', KEYS[1]) or '0'
      if cursor == 'done' then return -1 end
      local r = redis.call('HSCAN', KEYS[2], cursor, 'COUNT', ARGV[1])
      local kv = r[2]
      for i = 1, #kv, 2 do
        local st = taskState(kv[i + 1])
        if st == 'Completed' or st == 'Failed' or st == 'Cancelled' then
          local at = string.match(kv[i + 1], '"completedAt":(%d+)') or string.match(kv[i + 1], '"submittedAt":(%d+)') or ARGV[2]
          redis.call('ZADD', st == 'Completed' and KEYS[3] or KEYS[4], 'NX', at, kv[i])
        end
      end
      redis.call('SET', KEYS[1], r[1] == '0' and 'done' or r[1])
      return #kv / 2
      """,
          ScriptOutputType.INTEGER);

  private final StatefulRedisConnection<String, String> conn;
  private final String countersKey;
  private final String deadLetterKey;
  private final Limits limits;

  /**
   * @param countersKey the state counters ({@link StatusCounts}); a trimmed task leaves its state's
   *     count, as a removed job leaves Bull's job counts (the per-node totals of finished runs
   *     stay)
   * @param deadLetterKey the dead-letter stream
   */
  public TaskRetention(
      RedisClient client, String countersKey, String deadLetterKey, Limits limits) {
    this.conn = client.connect();
    this.countersKey = countersKey;
    this.deadLetterKey = deadLetterKey;
    this.limits = limits;
  }

  /** What one {@link #trim} removed. */
  public record Trimmed(long completed, long failed, long deadLetters) {}

  /**
   * Removes what the limits no longer keep, as of {@code nowMs}; returns how many listing entries
   * went.
   */
  public Trimmed trim(long nowMs) {
    backfill(nowMs, 20);
    long completed =
        trimSet(ENDED_COMPLETED, cutoff(nowMs, limits.completedAge()), limits.completedCount());
    long failed = trimSet(ENDED_FAILED, cutoff(nowMs, limits.failedAge()), limits.failedCount());
    long failedCut = cutoff(nowMs, limits.failedAge());
    Long dead =
        TRIM_DEAD
            .<Long>call(
                conn.async(),
                new String[] {deadLetterKey},
                failedCut < 0 ? "-1" : failedCut + "-0",
                Long.toString(limits.failedCount()))
            .toCompletableFuture()
            .join();
    return new Trimmed(completed, failed, dead == null ? 0 : dead);
  }

  /**
   * Tasks that ended before this retention existed are not in its order yet: each trim puts up to
   * {@code steps} batches of the listing into it, until the whole listing was read once.
   */
  private void backfill(long nowMs, int steps) {
    String[] keys = {BACKFILL, TaskIndex.SUMMARIES, ENDED_COMPLETED, ENDED_FAILED};
    for (int i = 0; i < steps; i++) {
      Long n =
          BACKFILL_STEP
              .<Long>call(
                  conn.async(), keys, Integer.toString(limits.batch()), Long.toString(nowMs))
              .toCompletableFuture()
              .join();
      if (n == null || n < 0) return;
    }
  }

  private static long cutoff(long nowMs, Duration age) {
    return age.isZero() ? -1 : Math.max(0, nowMs - age.toMillis());
  }

  private long trimSet(String endedKey, long cutoff, long count) {
    String[] keys = {endedKey, TaskIndex.SUMMARIES, TaskIndex.BY_TIME, countersKey};
    long removed = 0;
    while (true) {
      List<Long> r =
          TRIM.<List<Long>>call(
                  conn.async(),
                  keys,
                  Long.toString(cutoff),
                  Long.toString(count),
                  Integer.toString(limits.batch()))
              .toCompletableFuture()
              .join();
      removed += r.get(1);
      if (r.get(0) < limits.batch()) return removed;
    }
  }

  @Override
  public void close() {
    conn.close();
  }
}
