package dev.anchor.task;

import java.util.concurrent.CompletionStage;

/**
 * Everything a {@link TaskEntity} does to the world outside its journal. The coordinator implements it with node
 * selection and Redis Streams; tests use a recording fake. Calls are made from the entity's actor thread, so they
 * must not block; the asynchronous answers come back to the entity as messages.
 */
public interface TaskEffects {

  /** Choose a node and put the job on its queue. */
  CompletionStage<Placement> dispatch(String taskId, int attempt, TaskSpec spec);

  /** Where {@link #dispatch} put the job, or why it could not. */
  sealed interface Placement {
    record Enqueued(String nodeId) implements Placement {}

    record NoEligibleNode(String reason) implements Placement {}
  }

  /** Stop a running attempt on its node (cancel). */
  void cancelRunning(String taskId, int attempt, String nodeId);

  /** Is this node still a live cluster member? (used after recovery and periodically while an attempt runs) */
  CompletionStage<Boolean> isNodeAlive(String nodeId);

  /** The task failed for good: put it on the dead-letter stream. */
  void deadLetter(String taskId, TaskSpec spec, String error);

  /** A state change happened (change feed for SSE/dashboard). */
  void changed(TaskView view, String eventName);
}
