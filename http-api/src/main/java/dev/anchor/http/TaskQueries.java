package dev.anchor.http;

import dev.anchor.queue.QueueStats;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.function.Predicate;

/** What the task routes read beside the task entities: the task listing and the queue's figures. */
public interface TaskQueries {
  /** The newest task summaries (JSON) that {@code accept} keeps, at most {@code limit}. */
  List<String> newest(int limit, Predicate<String> accept);

  /** GET /api/queue/stats. */
  QueueStats queueStats();

  /** The cluster's count of open tasks, for the admission bounds. */
  CompletionStage<Long> openTasks();
}
