package dev.anchor.queue;

import java.util.Map;

/**
 * One job on a node's stream: which task, which attempt, and the task's spec as JSON (the worker
 * needs nothing else).
 */
public record JobMessage(String taskId, int attempt, int priority, String specJson) {
  Map<String, String> fields() {
    return Map.of(
        "taskId",
        taskId,
        "attempt",
        Integer.toString(attempt),
        "priority",
        Integer.toString(priority),
        "spec",
        specJson);
  }

  static JobMessage of(Map<String, String> f) {
    return new JobMessage(
        f.get("taskId"),
        Integer.parseInt(f.getOrDefault("attempt", "1")),
        Integer.parseInt(f.getOrDefault("priority", "0")),
        f.get("spec"));
  }
}
