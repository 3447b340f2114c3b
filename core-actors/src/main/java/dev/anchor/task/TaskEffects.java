package dev.anchor.task;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;

/**
 * Everything a {@link TaskEntity} does to the world outside its journal. The coordinator implements
 * it with node selection and Redis Streams; tests use a recording fake. Calls are made from the
 * entity's actor thread, so they must not block; the asynchronous answers come back to the entity
 * as messages.
 */
public interface TaskEffects {

  /** Choose a node and put the job on its queue. */
  CompletionStage<Placement> dispatch(String taskId, int attempt, TaskSpec spec);

  /** Where {@link #dispatch} put the job, or why it could not. */
  /** Whether a placement names a shared pool (any fitting node pulls from it), not a node. */
  default boolean isPool(String placedOn) {
    return false;
  }

  sealed interface Placement {
    /**
     * @param proven the node is trusted to run a task alone (adaptive verification)
     * @param spotCheck the node is not proven and this job was drawn for a spot-check: verify it on
     *     a second node
     */
    record Enqueued(String nodeId, boolean proven, boolean spotCheck) implements Placement {
      public Enqueued(String nodeId) {
        this(nodeId, true, false);
      }
    }

    record NoEligibleNode(String reason) implements Placement {}
  }

  /**
   * Put one job per number in {@code jobs} on distinct nodes, none of them in {@code excludedNodes}
   * (they already hold a replica of the task), preferring hosts that hold none. Answers one
   * placement per job, in order.
   */
  CompletionStage<List<ReplicaPlacement>> dispatchReplicas(
      String taskId, List<Integer> jobs, TaskSpec spec, Set<String> excludedNodes);

  /**
   * @param nodeId where job {@code job} was enqueued, or null with the reason no node could take it
   */
  record ReplicaPlacement(int job, String nodeId, String noNodeReason) {}

  /**
   * A node's result for a verified task agreed (or not) with the quorum: its reputation follows.
   * Completes once the node's entity recorded it; the entity counts one verdict per task, so the
   * task sends it again until it does.
   */
  CompletionStage<org.apache.pekko.Done> verdict(String nodeId, String taskId, boolean agreed);

  /**
   * Replicas of a task disagreed: keep the evidence. Completes once it is stored; stored again (by
   * task id, replacing the record) when the task sends it again.
   *
   * @param agreedKey the quorum's outcome key, or null when no quorum was reached
   * @param at when the mismatch was decided (stable across re-sends, so the record is written once)
   */
  CompletionStage<org.apache.pekko.Done> mismatch(
      String taskId,
      TaskSpec spec,
      String agreedKey,
      List<Replica> replicas,
      List<String> faultyNodes,
      long at);

  /** Stop a running attempt on its node (cancel). */
  void cancelRunning(String taskId, int attempt, String nodeId);

  /**
   * The task was cancelled: a job of it still waiting in the queue (on a node's stream or parked in
   * a pool) must never start. Fire and forget; told again when the entity recovers.
   */
  void dropQueuedJobs(String taskId);

  /**
   * Is this node still a live cluster member? (used after recovery and periodically while an
   * attempt runs)
   */
  CompletionStage<Boolean> isNodeAlive(String nodeId);

  /** The task failed for good: put it on the dead-letter stream. */
  void deadLetter(String taskId, TaskSpec spec, String error);

  /** A state change happened (change feed for SSE/dashboard, queue counters). */
  void changed(TaskView view, TaskChange change);

  /**
   * Where the job of {@code attempt} was queued before a restart (dispatches are not journaled), or
   * empty when it was not queued, or was acknowledged since: then it is dispatched again.
   */
  default CompletionStage<java.util.Optional<String>> placedOn(String taskId, int attempt) {
    return java.util.concurrent.CompletableFuture.completedFuture(java.util.Optional.empty());
  }
}
