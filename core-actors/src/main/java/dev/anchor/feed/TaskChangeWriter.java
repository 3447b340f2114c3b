package dev.anchor.feed;

import dev.anchor.queue.RedisScript;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Writes task changes to Redis: for each, its change-feed entry, its listing summary (and, on its
 * first and last change, its place in the submission order), the state counters it moves ({@link
 * StatusCounts}: the summary it replaces says which state the task leaves) and, when the task
 * ended, its place in the order {@link TaskRetention} trims by — all in one script call. Changes
 * that arrive while a call is on its way go together in the next one (group commit: no waiting when
 * the feed is idle, one round trip for many changes when it is busy), in the order they were
 * written; every task changes three or four times, so this is most of what the feed costs.
 */
public final class TaskChangeWriter implements AutoCloseable {
  /**
   * Lua: an ended task's place in the retention order ({@link TaskRetention}), when it ended (its
   * completedAt, else the fallback time).
   */
  private static final String PLACE_ENDED =
      """
      local function placeEnded(completedKey, failedKey, task, summary, fallback)
        local now = taskState(summary)
        if now == 'Completed' or now == 'Failed' or now == 'Cancelled' then
          local endedAt = string.match(summary, '"completedAt":(%d+)') or fallback
          redis.call('ZADD', now == 'Completed' and completedKey or failedKey, endedAt, task)
        end
      end
      """;

  private static final RedisScript WRITE =
      new RedisScript(
          StatusCounts.LUA_FUNCTIONS
              + PLACE_ENDED
              + """
      local ids = {}
      for i = 0, tonumber(ARGV[2]) - 1 do
        local b = 2 + i * 6
        local task, summary = ARGV[b + 1], ARGV[b + 4]
        local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
          'kind', 'task', 'id', task, 'event', ARGV[b + 2], 'json', ARGV[b + 3])
        local old = redis.call('HGET', KEYS[2], task)
        redis.call('HSET', KEYS[2], task, summary)
        if ARGV[b + 5] ~= '' then redis.call('ZADD', KEYS[3], ARGV[b + 5], task) end
        moveTask(KEYS[4], old or nil, summary)
        placeEnded(KEYS[5], KEYS[6], task, summary, ARGV[b + 6])
        ids[#ids + 1] = id
      end
      return ids
      """,
          ScriptOutputType.MULTI);

  /**
   * KEYS: summaries, submission order, counters, ended completed, ended failed. ARGV: count, then
   * per task its id, summary, submission time and fallback end time. Puts back the listing entry of
   * each task that has none (a task that wrote a change meanwhile keeps its newer one), with its
   * counters and order; no feed entry. Answers how many were put back.
   */
  private static final RedisScript RESTORE =
      new RedisScript(
          StatusCounts.LUA_FUNCTIONS
              + PLACE_ENDED
              + """
      local n = 0
      for i = 0, tonumber(ARGV[1]) - 1 do
        local b = 1 + i * 4
        local task, summary = ARGV[b + 1], ARGV[b + 2]
        if redis.call('HSETNX', KEYS[1], task, summary) == 1 then
          if ARGV[b + 3] ~= '' then redis.call('ZADD', KEYS[2], ARGV[b + 3], task) end
          moveTask(KEYS[3], nil, summary)
          placeEnded(KEYS[4], KEYS[5], task, summary, ARGV[b + 4])
          n = n + 1
        end
      end
      return n
      """,
          ScriptOutputType.INTEGER);

  /** A task's listing entry as {@link #restore} puts it back. */
  public record Listing(String taskId, String summaryJson, Long submittedAt) {}

  /**
   * At most this many changes, or about this many bytes of them, in one call (a large result is a
   * large change).
   */
  static final int MAX_BATCH = 128;

  static final int MAX_BATCH_CHARS = 1 << 20;

  private record Change(
      String taskId,
      String event,
      String json,
      String summaryJson,
      String orderAt,
      String at,
      CompletableFuture<String> done) {
    int chars() {
      return json.length() + summaryJson.length();
    }
  }

  private final StatefulRedisConnection<String, String> conn;
  private final String[] keys;
  private final String maxLen;
  private final ConcurrentLinkedQueue<Change> pending = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean calling = new AtomicBoolean();

  /**
   * @param countersKey the hash of state counters ({@link StatusCounts})
   */
  public TaskChangeWriter(RedisClient client, long feedMaxLen, String countersKey) {
    this.conn = client.connect();
    this.keys =
        new String[] {
          ChangeFeed.STREAM,
          TaskIndex.SUMMARIES,
          TaskIndex.BY_TIME,
          countersKey,
          TaskRetention.ENDED_COMPLETED,
          TaskRetention.ENDED_FAILED
        };
    this.maxLen = Long.toString(feedMaxLen);
  }

  /**
   * @param orderAt the task's submission time to (re)place it in the listing order, or null to
   *     leave it
   * @return the feed entry's id
   */
  public CompletionStage<String> write(
      String taskId, String event, String json, String summaryJson, Long orderAt) {
    CompletableFuture<String> done = new CompletableFuture<>();
    pending.add(
        new Change(
            taskId,
            event,
            json,
            summaryJson,
            orderAt == null ? "" : orderAt.toString(),
            Long.toString(System.currentTimeMillis()),
            done));
    callIfIdle();
    return done;
  }

  private void callIfIdle() {
    // whoever wins the flag sends what is pending; a change added after the winner drained is sent
    // by the next round
    while (!pending.isEmpty() && calling.compareAndSet(false, true)) {
      List<Change> batch = new ArrayList<>();
      int chars = 0;
      for (Change c;
          batch.size() < MAX_BATCH
              && (batch.isEmpty() || chars < MAX_BATCH_CHARS)
              && (c = pending.poll()) != null; ) {
        batch.add(c);
        chars += c.chars();
      }
      if (batch.isEmpty()) {
        calling.set(false);
        continue;
      }
      call(batch);
      return;
    }
  }

  private void call(List<Change> batch) {
    String[] args = new String[2 + 6 * batch.size()];
    args[0] = maxLen;
    args[1] = Integer.toString(batch.size());
    int i = 2;
    for (Change c : batch) {
      args[i++] = c.taskId();
      args[i++] = c.event();
      args[i++] = c.json();
      args[i++] = c.summaryJson();
      args[i++] = c.orderAt();
      args[i++] = c.at();
    }
    CompletionStage<List<Object>> sent;
    try {
      sent = WRITE.call(conn.async(), keys, args);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete(
        (ids, failure) -> {
          for (int k = 0; k < batch.size(); k++) {
            Change c = batch.get(k);
            if (failure != null) c.done().completeExceptionally(failure);
            else c.done().complete(String.valueOf(ids.get(k)));
          }
          calling.set(false);
          callIfIdle();
        });
  }

  /**
   * Puts back the listing entries of tasks that have none (after Redis lost its data), counting
   * them in the state counters and the retention order; tasks with an entry keep theirs. Writes no
   * change-feed entry: nothing changed. Returns how many were put back.
   */
  public CompletionStage<Long> restore(List<Listing> listings) {
    if (listings.isEmpty()) return CompletableFuture.completedFuture(0L);
    String[] args = new String[1 + 4 * listings.size()];
    args[0] = Integer.toString(listings.size());
    int i = 1;
    String now = Long.toString(System.currentTimeMillis());
    for (Listing l : listings) {
      args[i++] = l.taskId();
      args[i++] = l.summaryJson();
      args[i++] = l.submittedAt() == null ? "" : l.submittedAt().toString();
      args[i++] = now;
    }
    try {
      return RESTORE.call(
          conn.async(), new String[] {keys[1], keys[2], keys[3], keys[4], keys[5]}, args);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  @Override
  public void close() {
    conn.close();
  }
}
