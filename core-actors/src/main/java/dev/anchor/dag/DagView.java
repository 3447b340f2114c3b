package dev.anchor.dag;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.anchor.CborSerializable;
import java.util.List;

/**
 * A DAG as clients see it (GET /api/dag/{id}). Times are epoch milliseconds; results are JSON text.
 *
 * @param status "Unknown", "Running", "Completed", "Failed" or "Cancelled"
 * @param result with one sink step, its result; with several, an object keyed by sink id; null
 *     until the DAG completed
 * @param criticalPath the ids of the longest-running chain of completed steps, first to last
 * @param criticalPathMs the summed duration of that chain
 * @param maxParallel the cap on steps in flight as given; null when the DAG has none
 * @param steps every step's state; written a second time as {@code nodes}, the name clients written
 *     before the rename read
 */
@JsonIgnoreProperties(
    value = {"nodes"},
    allowGetters = true)
public record DagView(
    String dagId,
    String name,
    String status,
    String failurePolicy,
    Integer maxParallel,
    int total,
    int completed,
    int running,
    int failed,
    Long submittedAt,
    Long completedAt,
    Long durationMs,
    String result,
    String error,
    List<String> criticalPath,
    long criticalPathMs,
    List<StepView> steps)
    implements CborSerializable {

  public static final String UNKNOWN = "Unknown";

  /** The steps under their name from before the rename (the API writes both). */
  @JsonProperty("nodes")
  public List<StepView> nodes() {
    return steps;
  }

  /**
   * @param status "Pending", "Running" (its task is submitted), "Completed", "Failed", "Skipped" (a
   *     dependency failed or the DAG failed fast) or "Cancelled"
   * @param type the step's {@code type} as given (e.g. "script", "parallel"); informative
   * @param taskId its task, null before it started and for a pass-through step (given without
   *     payload: no task, its result is its input)
   */
  public record StepView(
      String id,
      String type,
      String status,
      String taskId,
      List<String> dependencies,
      String result,
      String error,
      Long startedAt,
      Long completedAt,
      Long durationMs)
      implements CborSerializable {}
}
