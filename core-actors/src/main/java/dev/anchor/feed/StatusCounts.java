package dev.anchor.feed;

import dev.anchor.queue.RedisScript;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * How many tasks, verified tasks and DAGs are in each state, kept in the counters hash (by default
 * {@code anchor:stats}) by the same script call that writes a task's listing summary: the script
 * reads the summary it replaces, and when the state it shows differs from the new one moves one
 * counter down and one up. So the counts are always exactly the histogram of the task index ({@code
 * anchor:tasks}, Redis, append-only file), whichever coordinator wrote the changes and however
 * often a change is written again after a restart; no JVM keeps them in memory. {@link #rebuild}
 * recomputes them from the index (and from {@code anchor:dags}) when the hash lacks its version
 * mark, e.g. on data written before these counters existed.
 *
 * <p>Fields: {@code task:<State>}, {@code consensus:<State>} (tasks with verification) and {@code
 * dag:<State>}, where a task's state is its status, with {@code Delayed} for a Queued task whose
 * retry is scheduled; and {@code node:<nodeId>:Completed|Failed} for the node that ran a task's
 * last attempt.
 */
public final class StatusCounts implements AutoCloseable {
  public static final String DAGS = "anchor:dags";
  static final String VERSION = "2";

  /**
   * Lua: the counted state of a task summary (nil for none), and the counter moves between two
   * summaries.
   */
  static final String LUA_FUNCTIONS =
      """
      local function taskState(s)
        if not s then return nil end
        local st = string.match(s, '"status":"(%a+)"')
        if st == 'Queued' and string.find(s, '"nextRetryAt":%d') then return 'Delayed' end
        return st
      end
      local function moveTask(stats, old, new)
        local was, now = taskState(old), taskState(new)
        local vWas = old and string.find(old, '"verified":true', 1, true)
        local vNow = string.find(new, '"verified":true', 1, true)
        if was == now and (not vWas) == (not vNow) then return end
        if was then
          redis.call('HINCRBY', stats, 'task:' .. was, -1)
          if vWas then redis.call('HINCRBY', stats, 'consensus:' .. was, -1) end
        end
        if now then
          redis.call('HINCRBY', stats, 'task:' .. now, 1)
          if vNow then redis.call('HINCRBY', stats, 'consensus:' .. now, 1) end
          if was ~= now and (now == 'Completed' or now == 'Failed') then
            local node = string.match(new, '"nodeId":"([^"\\\\]+)"')
            if node then redis.call('HINCRBY', stats, 'node:' .. node .. ':' .. now, 1) end
          end
        end
      end
      """;

  private static final RedisScript DAG =
      new RedisScript(
          """
      local was = redis.call('HGET', KEYS[1], ARGV[1])
      if was == ARGV[2] then return 0 end
      redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
      if was then redis.call('HINCRBY', KEYS[2], 'dag:' .. was, -1) end
      redis.call('HINCRBY', KEYS[2], 'dag:' .. ARGV[2], 1)
      return 1
      """,
          ScriptOutputType.INTEGER);

  private static final RedisScript REBUILD =
      new RedisScript(
          LUA_FUNCTIONS
              + """
      if redis.call('HGET', KEYS[2], 'v') == ARGV[1] then return -1 end
      local counts = {}
      local function add(f) counts[f] = (counts[f] or 0) + 1 end
      local n = 0
      local cursor = '0'
      repeat
        local r = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', 1000)
        cursor = r[1]
        local kv = r[2]
        for i = 2, #kv, 2 do
          local s = kv[i]
          local st = taskState(s)
          if st then
            n = n + 1
            add('task:' .. st)
            if string.find(s, '"verified":true', 1, true) then add('consensus:' .. st) end
            if st == 'Completed' or st == 'Failed' then
              local node = string.match(s, '"nodeId":"([^"\\\\]+)"')
              if node then add('node:' .. node .. ':' .. st) end
            end
          end
        end
      until cursor == '0'
      cursor = '0'
      repeat
        local r = redis.call('HSCAN', KEYS[3], cursor, 'COUNT', 1000)
        cursor = r[1]
        local kv = r[2]
        for i = 2, #kv, 2 do add('dag:' .. kv[i]) end
      until cursor == '0'
      redis.call('DEL', KEYS[2])
      for f, c in pairs(counts) do redis.call('HSET', KEYS[2], f, c) end
      redis.call('HSET', KEYS[2], 'v', ARGV[1])
      return n
      """,
          ScriptOutputType.INTEGER);

  private final StatefulRedisConnection<String, String> conn;
  private final String countersKey;

  public StatusCounts(RedisClient client, String countersKey) {
    this.conn = client.connect();
    this.countersKey = countersKey;
  }

  /**
   * Recomputes every count from the task index and the DAG states unless the counters hash is
   * already of this version; atomic (one script). Answers how many tasks it counted, or -1 when
   * nothing had to be done.
   */
  public long rebuild() {
    Long n =
        REBUILD
            .<Long>call(
                conn.async(), new String[] {TaskIndex.SUMMARIES, countersKey, DAGS}, VERSION)
            .toCompletableFuture()
            .join();
    return n == null ? -1 : n;
  }

  /**
   * A DAG's state: "Waiting" (scheduled, no node started), "Active", "Completed", "Failed" or
   * "Cancelled"; repeating a state changes nothing.
   */
  public CompletionStage<Long> dag(String dagId, String state) {
    return DAG.call(conn.async(), new String[] {DAGS, countersKey}, dagId, state);
  }

  /** The counters hash as it is. */
  public Map<String, Long> read() {
    Map<String, Long> out = new LinkedHashMap<>();
    conn.sync()
        .hgetall(countersKey)
        .forEach(
            (k, v) -> {
              try {
                out.put(k, Long.parseLong(v));
              } catch (NumberFormatException ignored) {
                // not a count
              }
            });
    return out;
  }

  @Override
  public void close() {
    conn.close();
  }
}
