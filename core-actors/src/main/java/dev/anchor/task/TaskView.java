package dev.anchor.task;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import dev.anchor.CborSerializable;
import java.util.List;

/**
 * A task as clients see it (the body of GET /api/tasks/{id}). Times are epoch milliseconds.
 *
 * @param status "Unknown" (never submitted), "Queued" (waiting for or on its way to a node),
 *     "Running", "Completed", "Failed" or "Cancelled"
 * @param attempts how many attempts have been handed to a node so far
 * @param nodeId the node of the current or last attempt
 * @param errorKind the worker's classification of the last error (e.g. "UserError", "Timeout",
 *     "NodeLost")
 * @param nextRetryAt when the next attempt is due while a retry is scheduled, else null
 * @param verification replicas and their agreement for a verified task, else null
 */
@JsonPropertyOrder({
  "taskId",
  "name",
  "type",
  "status",
  "result",
  "error",
  "errorKind",
  "logs",
  "attempts",
  "nodeId",
  "submittedAt",
  "startedAt",
  "completedAt"
})
public record TaskView(
    String taskId,
    String name,
    String type,
    String status,
    String result,
    String error,
    String errorKind,
    String logs,
    int attempts,
    String nodeId,
    Long submittedAt,
    Long completedAt,
    Long durationMs,
    Long nextRetryAt,
    String waitingReason,
    int priority,
    String runtime,
    List<HistoryEntry> history,
    VerificationView verification)
    implements CborSerializable {

  public TaskView(
      String taskId,
      String name,
      String type,
      String status,
      String result,
      String error,
      String errorKind,
      String logs,
      int attempts,
      String nodeId,
      Long submittedAt,
      Long completedAt,
      Long durationMs,
      Long nextRetryAt,
      String waitingReason,
      int priority,
      String runtime,
      List<HistoryEntry> history) {
    this(
        taskId,
        name,
        type,
        status,
        result,
        error,
        errorKind,
        logs,
        attempts,
        nodeId,
        submittedAt,
        completedAt,
        durationMs,
        nextRetryAt,
        waitingReason,
        priority,
        runtime,
        history,
        null);
  }

  /**
   * When the current or last attempt started running on its node (Bull's {@code processedOn}), null
   * before any did; from the history, so it needs no field of its own.
   */
  @JsonProperty(value = "startedAt", access = JsonProperty.Access.READ_ONLY)
  public Long startedAt() {
    if (history == null) return null;
    for (int i = history.size() - 1; i >= 0; i--) {
      HistoryEntry h = history.get(i);
      if ("Started".equals(h.event())) return h.at();
    }
    return null;
  }

  public static final String UNKNOWN = "Unknown";
  public static final String QUEUED = "Queued";
  public static final String RUNNING = "Running";
  public static final String COMPLETED = "Completed";
  public static final String FAILED = "Failed";
  public static final String CANCELLED = "Cancelled";

  /** One journaled step of the task. */
  public record HistoryEntry(String event, long at, int attempt, String nodeId, String detail)
      implements CborSerializable {}
}
