package dev.anchor.dag;

import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.util.concurrent.CompletionStage;

/**
 * Everything a {@link DagEntity} does outside its journal. Production sends to the sharded task
 * entities; tests use a fake. Called on the entity's actor thread, so calls must not block.
 */
public interface DagEffects {

  /**
   * Create the task (idempotent: an existing task answers its current view and is not run again).
   */
  CompletionStage<TaskView> submitTask(String taskId, TaskSpec spec);

  /** The task's view; status {@link TaskView#UNKNOWN} if it was never submitted. */
  CompletionStage<TaskView> getTask(String taskId);

  /**
   * Cancel a task that has not ended (an ended task answers a failed stage, which callers may
   * ignore).
   */
  CompletionStage<TaskView> cancelTask(String taskId);

  /** A DAG changed (change feed for SSE). */
  void changed(DagChange change);

  /**
   * One change, small on purpose (a 1,000-step DAG makes thousands): the full view is one GET away.
   *
   * @param event "Scheduled", "NodeStarted", "NodeCompleted", "NodeFailed", "NodeSkipped",
   *     "NodeCancelled", or the DAG's end: "Completed", "Failed", "Cancelled"
   * @param stepId the step the event is about, null for the DAG's own events; written a second time
   *     as {@code nodeId}, the name clients written before the rename read
   */
  record DagChange(
      String dagId, String event, String stepId, String status, int completed, int total) {
    @com.fasterxml.jackson.annotation.JsonProperty("nodeId")
    public String nodeId() {
      return stepId;
    }
  }
}
