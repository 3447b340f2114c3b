package dev.anchor.feed;

import dev.anchor.task.TaskView;
import dev.anchor.task.TaskViews;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * Puts the task listing ({@code anchor:tasks}, its order, the state counters and the retention
 * order) back from the journal when Redis lost its data: a Redis restarted without its file, a new
 * or flushed server. The journal, not Redis, is the source of truth; the listing is a copy of it.
 *
 * <p>A mark in Redis says the listing is whole. It is missing on a server that lost its data, so a
 * coordinator that finds it missing (at start and whenever Redis comes back) reads the newest tasks
 * back from the journal, as many as retention keeps, and restores the entries that are absent.
 * Tasks that wrote a change meanwhile keep their newer entry, so it is safe beside live traffic and
 * on several coordinators at once. The mark is set only when the restore finished: a crash midway
 * means the next start does it again.
 */
public final class TaskIndexRestore implements AutoCloseable {
  static final String MARK = "anchor:tasks:whole";

  private static final String PREFIX = "Task|";
  private static final int BATCH = 200;

  /** The journal's newest entities with their events (JournalScan#latestFirst). */
  @FunctionalInterface
  public interface Journal {
    int latestFirst(String prefix, int max, BiConsumer<String, List<Object>> each);
  }

  /** What a restore did: tasks read from the journal, entries put back. */
  public record Restored(int read, long putBack) {}

  private final StatefulRedisConnection<String, String> conn;
  private final TaskChangeWriter writer;
  private final Journal journal;
  private final int max;

  /**
   * @param max at most this many tasks are read back (what retention would keep)
   */
  public TaskIndexRestore(RedisClient client, TaskChangeWriter writer, Journal journal, int max) {
    this.conn = client.connect();
    this.writer = writer;
    this.journal = journal;
    this.max = max;
  }

  /** Whether the listing is known to be whole (the mark is there). Blocking. */
  public boolean whole() {
    return "1".equals(conn.sync().get(MARK));
  }

  /** Restores the listing unless the mark says it is whole; null when it was. Blocking. */
  public Restored restoreIfLost() {
    if (whole()) return null;
    Restored r = restore();
    conn.sync().set(MARK, "1");
    return r;
  }

  /** Reads the newest tasks back from the journal and puts back the absent entries. Blocking. */
  public Restored restore() {
    List<TaskChangeWriter.Listing> batch = new ArrayList<>();
    long[] putBack = {0};
    int read =
        journal.latestFirst(
            PREFIX,
            max,
            (pid, events) -> {
              String taskId = pid.substring(PREFIX.length());
              TaskView v = TaskViews.replay(taskId, events);
              if (TaskView.UNKNOWN.equals(v.status()) || v.submittedAt() == null) return;
              batch.add(new TaskChangeWriter.Listing(taskId, TaskJson.summary(v), v.submittedAt()));
              if (batch.size() >= BATCH) {
                putBack[0] += writer.restore(List.copyOf(batch)).toCompletableFuture().join();
                batch.clear();
              }
            });
    if (!batch.isEmpty()) putBack[0] += writer.restore(batch).toCompletableFuture().join();
    return new Restored(read, putBack[0]);
  }

  @Override
  public void close() {
    conn.close();
  }
}
