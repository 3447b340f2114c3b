package dev.anchor.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.queue.RealRedis;
import dev.anchor.task.TaskEntity;
import dev.anchor.task.TaskSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The listing put back from journaled events after Redis lost it, against a real redis-server. */
class TaskIndexRestoreTest {
  @RegisterExtension static final RealRedis redis = new RealRedis();
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void aLostListingComesBackFromTheJournalAndLiveEntriesKeepTheirs() throws Exception {
    var sync = redis.connection().sync();
    // newest first, as JournalScan hands them over
    Map<String, List<Object>> journal = new LinkedHashMap<>();
    journal.put(
        "Task|r-done",
        List.of(
            new TaskEntity.Submitted(TaskSpec.of("done", "js", "6 * 7"), 1_000),
            new TaskEntity.Dispatched(1, "n1", 1_001),
            new TaskEntity.Completed(1, "n1", "42", "", 5, 1_010)));
    journal.put(
        "Task|r-live", List.of(new TaskEntity.Submitted(TaskSpec.of("live", "js", "1"), 900)));
    TaskIndexRestore.Journal scan =
        (prefix, max, each) -> {
          int n = 0;
          for (var e : journal.entrySet()) {
            if (n == max) break;
            each.accept(e.getKey(), e.getValue());
            n++;
          }
          return n;
        };
    // a task that wrote a change since Redis came back keeps that newer entry
    sync.hset(TaskIndex.SUMMARIES, "r-live", "{\"taskId\":\"r-live\",\"status\":\"Running\"}");

    try (TaskChangeWriter writer = new TaskChangeWriter(redis.client(), 1000, "test:restore");
        TaskIndexRestore restore = new TaskIndexRestore(redis.client(), writer, scan, 10)) {
      assertEquals(new TaskIndexRestore.Restored(2, 1), restore.restoreIfLost());

      JsonNode done = JSON.readTree(sync.hget(TaskIndex.SUMMARIES, "r-done"));
      assertEquals("Completed", done.path("status").asText(), done.toString());
      assertEquals("done", done.path("name").asText(), done.toString());
      assertEquals(1_000, done.path("submittedAt").asLong(), done.toString());
      assertTrue(
          sync.hget(TaskIndex.SUMMARIES, "r-live").contains("Running"),
          "the live entry was replaced");
      // counted, placed in the submission order and in the retention order
      assertEquals("1", sync.hget("test:restore", "task:Completed"));
      assertNull(sync.hget("test:restore", "task:Queued"));
      assertEquals(1_000.0, sync.zscore(TaskIndex.BY_TIME, "r-done"));
      assertEquals(1_010.0, sync.zscore(TaskRetention.ENDED_COMPLETED, "r-done"));

      // the mark says the listing is whole: nothing is read again until Redis loses it
      journal.clear();
      assertNull(restore.restoreIfLost());
      sync.flushall();
      assertEquals(new TaskIndexRestore.Restored(0, 0), restore.restoreIfLost());
    }
  }
}
