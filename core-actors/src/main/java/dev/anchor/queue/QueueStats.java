package dev.anchor.queue;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * GET /api/queue/stats. First the reference system's three objects: {@code tasks} (waiting, active,
 * completed, failed across the cluster, plus delayed and cancelled), {@code dag} (waiting, active,
 * completed, plus failed and cancelled) and {@code consensus} (tasks with verification: waiting,
 * active, completed, plus failed), counted by state from the task index (see {@code
 * dev.anchor.feed.StatusCounts}); then the job streams in the vocabulary of Bull, per node queue
 * ({@code queues}) and in {@code total}.
 */
public record QueueStats(
    Map<String, Long> tasks,
    Map<String, Long> dag,
    Map<String, Long> consensus,
    Map<String, Counts> queues,
    Counts total) {
  public record Counts(
      long waiting, long active, long completed, long failed, long delayed, long deadLettered) {}

  /**
   * The reference objects from the state counters ({@code task:<State>}, {@code consensus:<State>},
   * {@code dag:<State>}).
   */
  static QueueStats of(Map<String, Long> counters, Map<String, Counts> queues, Counts total) {
    Map<String, Long> tasks = new LinkedHashMap<>();
    tasks.put("waiting", n(counters, "task:Queued"));
    tasks.put("active", n(counters, "task:Running"));
    tasks.put("completed", n(counters, "task:Completed"));
    tasks.put("failed", n(counters, "task:Failed"));
    tasks.put("delayed", n(counters, "task:Delayed"));
    tasks.put("cancelled", n(counters, "task:Cancelled"));
    Map<String, Long> dag = new LinkedHashMap<>();
    dag.put("waiting", n(counters, "dag:Waiting"));
    dag.put("active", n(counters, "dag:Active"));
    dag.put("completed", n(counters, "dag:Completed"));
    dag.put("failed", n(counters, "dag:Failed"));
    dag.put("cancelled", n(counters, "dag:Cancelled"));
    Map<String, Long> consensus = new LinkedHashMap<>();
    consensus.put("waiting", n(counters, "consensus:Queued") + n(counters, "consensus:Delayed"));
    consensus.put("active", n(counters, "consensus:Running"));
    consensus.put("completed", n(counters, "consensus:Completed"));
    consensus.put("failed", n(counters, "consensus:Failed"));
    return new QueueStats(tasks, dag, consensus, queues, total);
  }

  static long n(Map<String, Long> counters, String field) {
    Long v = counters.get(field);
    return v == null ? 0 : Math.max(0, v);
  }
}
