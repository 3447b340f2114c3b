package dev.anchor.task;

import dev.anchor.task.TaskState.Status;
import java.util.ArrayList;
import java.util.List;

/** What the API shows of a task's state: its {@link TaskView}. */
public final class TaskViews {
  private TaskViews() {}

  /**
   * The view of a task whose journaled events these are, in order (as its entity would recover it),
   * for what is rebuilt from the journal without starting the entity; objects that are not task
   * events are skipped.
   */
  public static TaskView replay(String taskId, List<Object> events) {
    TaskState s = TaskState.EMPTY;
    for (Object e : events) {
      if (e instanceof TaskEntity.Event event) s = s.apply(event);
    }
    return view(taskId, s);
  }

  static TaskView view(String taskId, TaskState s) {
    TaskSpec spec = s.spec();
    return new TaskView(
        taskId,
        spec == null ? null : spec.name(),
        spec == null ? null : spec.type(),
        statusName(s.status()),
        s.result(),
        s.error(),
        s.errorKind(),
        s.logs(),
        s.attemptsDispatched(),
        s.nodeId(),
        s.submittedAt(),
        s.completedAt(),
        s.durationMs(),
        s.retryDueAt(),
        s.waitingReason(),
        spec == null ? 0 : spec.priority(),
        spec == null ? null : spec.runtime(),
        s.history(),
        verificationView(s));
  }

  private static VerificationView verificationView(TaskState s) {
    TaskSpec.Verification v = s.verification();
    if (v == null) return null;
    List<String> agreeing = new ArrayList<>();
    List<String> disagreeing = new ArrayList<>();
    List<VerificationView.ReplicaView> runs = new ArrayList<>();
    for (Replica r : s.replicas()) {
      if (r.phase() == Replica.Phase.REPORTED && s.agreedKey() != null) {
        (s.agreedKey().equals(r.outcomeKey()) ? agreeing : disagreeing).add(r.nodeId());
      }
      runs.add(
          new VerificationView.ReplicaView(
              r.job(),
              r.nodeId(),
              phaseName(r.phase()),
              r.outcomeKey(),
              r.durationMs(),
              r.error(),
              r.late()));
    }
    return new VerificationView(
        v.replicas(),
        v.quorum(),
        v.maxReplicas(),
        v.policy(),
        s.verificationReason(),
        s.agreedKey(),
        agreeing,
        disagreeing,
        runs);
  }

  private static String phaseName(Replica.Phase p) {
    return switch (p) {
      case DISPATCHED -> "Queued";
      case RUNNING -> "Running";
      case REPORTED -> "Reported";
      case NO_RESULT -> "NoResult";
      case WITHDRAWN -> "Withdrawn";
    };
  }

  static String statusName(Status status) {
    return switch (status) {
      case NEW -> TaskView.UNKNOWN;
      case QUEUED, DISPATCHED -> TaskView.QUEUED;
      case RUNNING -> TaskView.RUNNING;
      case COMPLETED -> TaskView.COMPLETED;
      case FAILED -> TaskView.FAILED;
      case CANCELLED -> TaskView.CANCELLED;
    };
  }
}
