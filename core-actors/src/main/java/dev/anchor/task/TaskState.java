package dev.anchor.task;

import dev.anchor.CborSerializable;
import dev.anchor.task.TaskEntity.AttemptFailed;
import dev.anchor.task.TaskEntity.AttemptStarted;
import dev.anchor.task.TaskEntity.Cancelled;
import dev.anchor.task.TaskEntity.Completed;
import dev.anchor.task.TaskEntity.Dispatched;
import dev.anchor.task.TaskEntity.EffectsDelivered;
import dev.anchor.task.TaskEntity.EffectsDue;
import dev.anchor.task.TaskEntity.Event;
import dev.anchor.task.TaskEntity.Failed;
import dev.anchor.task.TaskEntity.ReplicaOnNode;
import dev.anchor.task.TaskEntity.ReplicaReported;
import dev.anchor.task.TaskEntity.ReplicaStarted;
import dev.anchor.task.TaskEntity.ReplicaWithdrawn;
import dev.anchor.task.TaskEntity.ReplicasDispatched;
import dev.anchor.task.TaskEntity.Requeued;
import dev.anchor.task.TaskEntity.RetryScheduled;
import dev.anchor.task.TaskEntity.Submitted;
import dev.anchor.task.TaskEntity.VerificationStarted;
import dev.anchor.task.TaskEntity.Verified;
import dev.anchor.task.TaskEntity.Waiting;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * A task's state as its journal builds it, event by event ({@link #apply}); the {@link TaskEntity}
 * that owns it decides what to journal, this decides what each event means.
 *
 * @param attempt the current attempt (1-based): the one queued, dispatched or running, or the last
 *     one
 * @param attemptsDispatched how many attempts reached a node
 * @param startedAt when the last attempt was reported started
 * @param retryDueAt when a scheduled retry is due, else null
 */
public record TaskState(
    Status status,
    TaskSpec spec,
    int attempt,
    int attemptsDispatched,
    String nodeId,
    String result,
    String error,
    String errorKind,
    String logs,
    Long durationMs,
    Long submittedAt,
    Long startedAt,
    Long completedAt,
    Long retryDueAt,
    String waitingReason,
    List<TaskView.HistoryEntry> history,
    TaskSpec.Verification verification,
    String verificationReason,
    List<Replica> replicas,
    String agreedKey,
    List<DueVerdict> dueVerdicts,
    Long dueEvidenceAt)
    implements CborSerializable {

  /**
   * A verdict the task decided and has not yet had confirmed by the node's entity (the outbox of a
   * verified task; see {@link TaskEntity.EffectsDue}).
   */
  public record DueVerdict(String nodeId, boolean agreed) implements CborSerializable {}

  public enum Status {
    NEW,
    QUEUED,
    DISPATCHED,
    RUNNING,
    COMPLETED,
    FAILED,
    CANCELLED;

    public boolean terminal() {
      return this == COMPLETED || this == FAILED || this == CANCELLED;
    }

    /** An attempt has been handed to a node and has not ended. */
    public boolean onNode() {
      return this == DISPATCHED || this == RUNNING;
    }
  }

  public static final TaskState EMPTY =
      new TaskState(
          Status.NEW,
          null,
          0,
          0,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          null,
          List.of(),
          null,
          null,
          List.of(),
          null,
          List.of(),
          null);

  public TaskState {
    history = history == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(history));
    replicas = replicas == null ? List.of() : List.copyOf(replicas);
    dueVerdicts = dueVerdicts == null ? List.of() : List.copyOf(dueVerdicts);
  }

  /**
   * Verdicts or fraud evidence decided and not yet confirmed delivered: the task stays open until
   * they are.
   */
  public boolean effectsDue() {
    return !dueVerdicts.isEmpty() || dueEvidenceAt != null;
  }

  /** Runs on several nodes with results compared. */
  public boolean replicated() {
    return verification != null;
  }

  Replica replica(int job, String nodeId) {
    for (Replica r : replicas) if (r.job() == job && Objects.equals(r.nodeId(), nodeId)) return r;
    return null;
  }

  /**
   * The current attempt on {@code nodeId}, its times unknown (found in the job queue after a
   * restart).
   */
  TaskState placedOn(int onAttempt, String nodeId) {
    Builder b = new Builder(this);
    b.onNode(Status.DISPATCHED, onAttempt, nodeId);
    return b.build();
  }

  TaskState apply(Event event) {
    Builder b = new Builder(this);
    switch (event) {
      case Submitted e -> {
        b.status = Status.QUEUED;
        b.spec = e.spec();
        TaskSpec.Verification v = e.spec().verification();
        boolean fixed = v != null && !v.adaptive();
        b.verification = fixed ? v : null;
        b.verificationReason = fixed ? "requested" : null;
        b.attempt = fixed ? 0 : 1; // replica jobs are numbered from 1
        b.submittedAt = e.at();
        b.log("Submitted", e.at(), 1, null, null);
      }
      case Dispatched e -> {
        b.onNode(Status.DISPATCHED, e.attempt(), e.nodeId());
        b.log("Dispatched", e.at(), e.attempt(), e.nodeId(), null);
      }
      case AttemptStarted e -> {
        b.onNode(Status.RUNNING, e.attempt(), e.nodeId());
        b.startedAt = e.at();
        b.log("Started", e.at(), e.attempt(), e.nodeId(), null);
      }
      case Completed e -> {
        b.progress(e.attempt(), e.nodeId(), e.dispatchedAt(), e.startedAt());
        b.status = Status.COMPLETED;
        b.nodeId = e.nodeId();
        b.result = e.resultJson();
        b.error = null;
        b.errorKind = null;
        b.logs = e.logs();
        b.durationMs = e.durationMs();
        b.completedAt = e.at();
        b.log("Completed", e.at(), e.attempt(), e.nodeId(), null);
      }
      case AttemptFailed e -> {
        b.progress(e.attempt(), e.nodeId(), e.dispatchedAt(), e.startedAt());
        b.status = Status.QUEUED;
        b.nodeId = e.nodeId();
        b.error = e.error();
        b.errorKind = e.errorKind();
        b.logs = e.logs();
        b.durationMs = e.durationMs();
        b.log("AttemptFailed", e.at(), e.attempt(), e.nodeId(), e.error());
      }
      case RetryScheduled e -> {
        b.status = Status.QUEUED;
        b.attempt = e.nextAttempt();
        b.retryDueAt = e.dueAtEpochMs();
        b.log(
            "RetryScheduled",
            e.at(),
            e.nextAttempt(),
            null,
            "due " + java.time.Instant.ofEpochMilli(e.dueAtEpochMs()));
      }
      case Failed e -> {
        b.progress(e.attempt(), e.nodeId(), e.dispatchedAt(), e.startedAt());
        b.status = Status.FAILED;
        b.nodeId = e.nodeId();
        b.error = e.error();
        b.errorKind = e.errorKind();
        b.logs = e.logs();
        b.durationMs = e.durationMs();
        b.completedAt = e.at();
        b.retryDueAt = null;
        b.log("Failed", e.at(), e.attempt(), e.nodeId(), e.error());
      }
      case Cancelled e -> {
        b.status = Status.CANCELLED;
        b.completedAt = e.at();
        b.retryDueAt = null;
        b.waitingReason = null;
        b.log("Cancelled", e.at(), e.attempt(), e.nodeId(), null);
      }
      case Waiting e -> {
        b.waitingReason = e.reason();
        b.log("Waiting", e.at(), attempt, null, e.reason());
      }
      case Requeued e -> {
        b.status = Status.QUEUED;
        b.nodeId = null;
        b.log(
            "Requeued",
            e.at(),
            e.attempt(),
            e.nodeId(),
            "withdrawn from " + e.nodeId() + ", which takes no work");
      }
      case VerificationStarted e -> {
        b.verification = e.verification();
        b.verificationReason = e.reason();
        b.log("VerificationStarted", e.at(), attempt, null, e.reason());
      }
      case ReplicasDispatched e -> {
        for (ReplicaOnNode r : e.replicas()) {
          b.replicas.add(Replica.dispatched(r.job(), r.nodeId(), e.at()));
          b.attempt = Math.max(b.attempt, r.job());
          b.log("Dispatched", e.at(), r.job(), r.nodeId(), "replica");
        }
        b.waitingReason = null;
        b.replicaStatus();
      }
      case ReplicaStarted e -> {
        b.updateReplica(e.job(), e.nodeId(), r -> r.started(e.at()));
        if (b.startedAt == null) b.startedAt = e.at();
        b.log("Started", e.at(), e.job(), e.nodeId(), "replica");
        b.replicaStatus();
      }
      case ReplicaReported e -> {
        boolean late = b.status.terminal();
        b.updateReplica(e.job(), e.nodeId(), r -> r.reported(e, late));
        String detail =
            e.outcomeKey() == null
                ? "no result: " + e.error()
                : (e.success() ? "result " : "error ") + e.outcomeKey() + (late ? " (late)" : "");
        b.log("ReplicaReported", e.at(), e.job(), e.nodeId(), detail);
        b.replicaStatus();
      }
      case ReplicaWithdrawn e -> {
        b.updateReplica(e.job(), e.nodeId(), r -> r.withdrawn(e.at()));
        b.log(
            "Withdrawn",
            e.at(),
            e.job(),
            e.nodeId(),
            "replica taken back from a node that takes no work");
        b.replicaStatus();
      }
      case EffectsDue e -> {
        for (DueVerdict v : e.verdicts()) {
          b.dueVerdicts.removeIf(d -> d.nodeId().equals(v.nodeId()));
          b.dueVerdicts.add(v);
        }
        if (e.evidenceAt() != null) b.dueEvidenceAt = e.evidenceAt();
      }
      case EffectsDelivered e -> {
        b.dueVerdicts.removeAll(e.verdicts());
        if (e.evidence()) b.dueEvidenceAt = null;
      }
      case Verified e -> {
        Replica winner =
            b.replicas.stream().filter(r -> r.job() == e.resultJob()).findFirst().orElseThrow();
        b.status = winner.success() ? Status.COMPLETED : Status.FAILED;
        b.agreedKey = e.outcomeKey();
        b.nodeId = winner.nodeId();
        b.result = winner.success() ? winner.result() : null;
        b.error = winner.success() ? null : winner.error();
        b.errorKind = winner.success() ? null : winner.errorKind();
        b.logs = winner.logs();
        b.durationMs = winner.durationMs();
        b.completedAt = e.at();
        b.waitingReason = null;
        b.log(
            winner.success() ? "Completed" : "Failed",
            e.at(),
            e.resultJob(),
            winner.nodeId(),
            "verified: "
                + e.agreeing().size()
                + " agreed (quorum "
                + b.verification.quorum()
                + ")"
                + (e.disagreeing().isEmpty()
                    ? ""
                    : ", disagreed: " + String.join(", ", e.disagreeing())));
      }
    }
    return b.build();
  }

  /** Mutable copy used only inside {@link #apply}, to keep the event cases short. */
  private static final class Builder {
    Status status;
    TaskSpec spec;
    int attempt;
    int attemptsDispatched;
    String nodeId;
    String result;
    String error;
    String errorKind;
    String logs;
    Long durationMs;
    Long submittedAt;
    Long startedAt;
    Long completedAt;
    Long retryDueAt;
    String waitingReason;
    final List<TaskView.HistoryEntry> history;
    TaskSpec.Verification verification;
    String verificationReason;
    final List<Replica> replicas;
    String agreedKey;
    final List<DueVerdict> dueVerdicts;
    Long dueEvidenceAt;

    Builder(TaskState s) {
      status = s.status;
      spec = s.spec;
      attempt = s.attempt;
      attemptsDispatched = s.attemptsDispatched;
      nodeId = s.nodeId;
      result = s.result;
      error = s.error;
      errorKind = s.errorKind;
      logs = s.logs;
      durationMs = s.durationMs;
      submittedAt = s.submittedAt;
      startedAt = s.startedAt;
      completedAt = s.completedAt;
      retryDueAt = s.retryDueAt;
      waitingReason = s.waitingReason;
      history = new ArrayList<>(s.history);
      verification = s.verification;
      verificationReason = s.verificationReason;
      replicas = new ArrayList<>(s.replicas);
      agreedKey = s.agreedKey;
      dueVerdicts = new ArrayList<>(s.dueVerdicts);
      dueEvidenceAt = s.dueEvidenceAt;
    }

    void updateReplica(int job, String node, java.util.function.UnaryOperator<Replica> change) {
      for (int i = 0; i < replicas.size(); i++) {
        Replica r = replicas.get(i);
        if (r.job() == job && Objects.equals(r.nodeId(), node)) replicas.set(i, change.apply(r));
      }
    }

    /** A verified task's status follows its replicas until it is decided. */
    void replicaStatus() {
      attemptsDispatched =
          (int) replicas.stream().filter(r -> r.phase() != Replica.Phase.WITHDRAWN).count();
      if (status.terminal()) return;
      boolean onNode = replicas.stream().anyMatch(r -> r.phase() == Replica.Phase.DISPATCHED);
      boolean reported = replicas.stream().anyMatch(r -> r.phase() == Replica.Phase.REPORTED);
      boolean running =
          replicas.stream().anyMatch(r -> r.phase() == Replica.Phase.RUNNING)
              || (onNode && reported);
      status = running ? Status.RUNNING : onNode ? Status.DISPATCHED : Status.QUEUED;
    }

    void onNode(Status newStatus, int onAttempt, String node) {
      status = newStatus;
      attempt = onAttempt;
      attemptsDispatched = Math.max(attemptsDispatched, onAttempt);
      nodeId = node;
      retryDueAt = null;
      waitingReason = null;
    }

    /**
     * An attempt's outcome carries where and when it ran (no longer journaled on their own): count
     * the attempt and show its Dispatched and Started steps in the history unless an older journal
     * recorded them already.
     */
    void progress(int onAttempt, String node, Long dispatchedAt, Long startedAt) {
      if (node == null) return;
      attemptsDispatched = Math.max(attemptsDispatched, onAttempt);
      if (startedAt != null) this.startedAt = startedAt;
      boolean logged =
          history.stream()
              .anyMatch(
                  h ->
                      h.attempt() == onAttempt
                          && h.detail() == null
                          && (h.event().equals("Dispatched") || h.event().equals("Started")));
      if (logged) return;
      if (dispatchedAt != null) log("Dispatched", dispatchedAt, onAttempt, node, null);
      if (startedAt != null) log("Started", startedAt, onAttempt, node, null);
    }

    void log(String event, long at, int onAttempt, String node, String detail) {
      history.add(new TaskView.HistoryEntry(event, at, onAttempt, node, detail));
    }

    TaskState build() {
      return new TaskState(
          status,
          spec,
          attempt,
          attemptsDispatched,
          nodeId,
          result,
          error,
          errorKind,
          logs,
          durationMs,
          submittedAt,
          startedAt,
          completedAt,
          retryDueAt,
          waitingReason,
          history,
          verification,
          verificationReason,
          replicas,
          agreedKey,
          dueVerdicts,
          dueEvidenceAt);
    }
  }
}
