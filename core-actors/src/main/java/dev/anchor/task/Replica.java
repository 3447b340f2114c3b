package dev.anchor.task;

import dev.anchor.CborSerializable;

/**
 * One run of a verified task on one node. Its {@code job} number plays the role of the attempt
 * number on the worker side (the job id on the node is task id + job), so workers need not know
 * about verification.
 *
 * @param outcomeKey what the replica votes with (canonical result hash, or a hash of a
 *     deterministic error); null while it runs and for a replica that ended without a result it can
 *     vote with (node lost, overdue, crashed runtime)
 * @param late reported after the task was already decided
 */
public record Replica(
    int job,
    String nodeId,
    Phase phase,
    long dispatchedAt,
    Long startedAt,
    Long endedAt,
    Long durationMs,
    boolean success,
    String outcomeKey,
    String result,
    String error,
    String errorKind,
    String logs,
    boolean late)
    implements CborSerializable {

  public enum Phase {
    DISPATCHED,
    RUNNING,
    REPORTED,
    NO_RESULT,
    WITHDRAWN;

    public boolean active() {
      return this == DISPATCHED || this == RUNNING;
    }
  }

  static Replica dispatched(int job, String nodeId, long at) {
    return new Replica(
        job,
        nodeId,
        Phase.DISPATCHED,
        at,
        null,
        null,
        null,
        false,
        null,
        null,
        null,
        null,
        null,
        false);
  }

  Replica started(long at) {
    return new Replica(
        job,
        nodeId,
        Phase.RUNNING,
        dispatchedAt,
        at,
        endedAt,
        durationMs,
        success,
        outcomeKey,
        result,
        error,
        errorKind,
        logs,
        late);
  }

  Replica reported(TaskEntity.ReplicaReported e, boolean isLate) {
    Phase p = e.outcomeKey() == null ? Phase.NO_RESULT : Phase.REPORTED;
    return new Replica(
        job,
        nodeId,
        p,
        dispatchedAt,
        startedAt,
        e.at(),
        e.durationMs(),
        e.success(),
        e.outcomeKey(),
        e.resultJson(),
        e.error(),
        e.errorKind(),
        e.logs(),
        isLate);
  }

  Replica withdrawn(long at) {
    return new Replica(
        job,
        nodeId,
        Phase.WITHDRAWN,
        dispatchedAt,
        startedAt,
        at,
        durationMs,
        false,
        null,
        null,
        null,
        null,
        null,
        late);
  }
}
