package dev.anchor.task;

import dev.anchor.task.TaskEntity.CheckLiveness;
import dev.anchor.task.TaskEntity.Completed;
import dev.anchor.task.TaskEntity.EffectsDue;
import dev.anchor.task.TaskEntity.Event;
import dev.anchor.task.TaskEntity.Failed;
import dev.anchor.task.TaskEntity.LivenessAnswer;
import dev.anchor.task.TaskEntity.Reconcile;
import dev.anchor.task.TaskEntity.ReplicaDispatchOutcome;
import dev.anchor.task.TaskEntity.ReplicaOnNode;
import dev.anchor.task.TaskEntity.ReplicaReported;
import dev.anchor.task.TaskEntity.ReplicaStarted;
import dev.anchor.task.TaskEntity.ReplicasDispatched;
import dev.anchor.task.TaskEntity.ReportResult;
import dev.anchor.task.TaskEntity.Started;
import dev.anchor.task.TaskEntity.Verified;
import dev.anchor.task.TaskEntity.Waiting;
import dev.anchor.task.TaskState.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EffectBuilder;

/**
 * The handlers of a verified task: its replicas on distinct nodes, their votes, the quorum's
 * decision, verdicts and fraud evidence. A {@link TaskEntity} whose state is {@link
 * TaskState#replicated()} hands its commands here; the single-run path stays in the entity, so each
 * reads on its own.
 */
final class ReplicatedRun {
  private final TaskEntity entity;

  /**
   * A replica dispatch call is in flight (its job numbers are above the journaled ones). Not
   * journaled.
   */
  private boolean replicaDispatchInFlight;

  /**
   * Something changed while a replica dispatch was in flight: look at the replicas again when it
   * answers.
   */
  private boolean reconcileAgain;

  /**
   * Replica jobs ("job@node") withdrawn, and nodes lost, while a replica dispatch was in flight:
   * the answer may name them, and a replica journaled there would wait for a job that is gone (its
   * node may well be reachable again, so no liveness check ends it). Not journaled, like the
   * flight.
   */
  private final java.util.Set<String> withdrawnEarly = new java.util.HashSet<>();

  private final java.util.Set<String> lostEarly = new java.util.HashSet<>();

  ReplicatedRun(TaskEntity entity) {
    this.entity = entity;
  }

  Effect<Event, TaskState> onReplicaStarted(TaskState s, Started c) {
    Replica r = s.replica(c.attempt(), c.nodeId());
    if (r == null || r.phase() != Replica.Phase.DISPATCHED) return entity.effect().none();
    boolean first = s.status() != Status.RUNNING;
    return entity
        .effect()
        .persist(new ReplicaStarted(c.attempt(), c.nodeId(), entity.now()))
        .thenRun(
            (TaskState ns) -> {
              entity.startLivenessChecks();
              if (first && !ns.status().terminal()) entity.announce(ns, TaskChange.REPLICA_STARTED);
            });
  }

  Effect<Event, TaskState> onReplicaResult(TaskState s, ReportResult r) {
    Replica rep = s.replica(r.attempt(), r.nodeId());
    if (rep == null) {
      if (replicaDispatchInFlight && r.attempt() > s.attempt()) {
        // a fast worker answered before the dispatch was journaled: it asks again shortly
        return entity
            .effect()
            .reply(
                r.replyTo(), StatusReply.error("replica " + r.attempt() + " is not recorded yet"));
      }
      return entity.effect().reply(r.replyTo(), StatusReply.ack());
    }
    if (!rep.phase().active()) return entity.effect().reply(r.replyTo(), StatusReply.ack());
    String runtime = s.spec().runtime();
    // a failure another try could fix (crashed runtime, lost child) is no evidence about the
    // result: no vote
    String key =
        r.success()
            ? dev.anchor.consensus.CanonicalResult.outcomeKey(
                runtime, true, r.resultJson(), null, null)
            : r.retryable()
                ? null
                : dev.anchor.consensus.CanonicalResult.outcomeKey(
                    runtime, false, null, r.errorKind(), r.error());
    Event reported =
        new ReplicaReported(
            r.attempt(),
            r.nodeId(),
            r.success(),
            r.resultJson(),
            key,
            r.error(),
            r.errorKind(),
            r.logs(),
            r.durationMs(),
            entity.now());
    return persistReplicaChange(s, List.of(reported), true)
        .thenReply(r.replyTo(), ns -> StatusReply.ack());
  }

  /**
   * A replica job withdrawn from {@code nodeId}: journaled as withdrawn and placed again, or, when
   * its placement is not journaled yet, remembered so the placement is not taken when it arrives.
   */
  Effect<Event, TaskState> onReplicaWithdrawn(TaskState s, int job, String nodeId) {
    Replica r = s.replica(job, nodeId);
    if (r == null && replicaDispatchInFlight && job > s.attempt() && !s.status().terminal()) {
      withdrawnEarly.add(job + "@" + nodeId);
      return entity.effect().none();
    }
    if (r == null || r.phase() != Replica.Phase.DISPATCHED || s.status().terminal())
      return entity.effect().none();
    return persistReplicaChange(
        s, List.of(new TaskEntity.ReplicaWithdrawn(job, nodeId, entity.now())), true);
  }

  /** Every running replica on {@code nodeId} ends without a vote. */
  Effect<Event, TaskState> replicasLost(
      TaskState s, String nodeId, String error, String errorKind) {
    if (replicaDispatchInFlight) lostEarly.add(nodeId);
    List<Event> events = new ArrayList<>();
    for (Replica r : s.replicas()) {
      if (r.phase().active() && r.nodeId().equals(nodeId)) {
        events.add(
            new ReplicaReported(
                r.job(), nodeId, false, null, null, error, errorKind, null, null, entity.now()));
      }
    }
    return events.isEmpty() ? entity.effect().none() : persistReplicaChange(s, events, true);
  }

  /** Liveness of every node holding a running replica, and the result deadline of each. */
  Effect<Event, TaskState> checkReplicas(TaskState s) {
    java.util.Set<String> nodes = new java.util.TreeSet<>();
    List<Event> overdue = new ArrayList<>();
    Long timeoutMs = s.spec().timeoutMs();
    long now = entity.now();
    for (Replica r : s.replicas()) {
      if (!r.phase().active()) continue;
      nodes.add(r.nodeId());
      if (timeoutMs != null
          && timeoutMs > 0
          && r.startedAt() != null
          && now > r.startedAt() + timeoutMs + entity.settings.resultGrace().toMillis()) {
        entity.effects.cancelRunning(entity.taskId, r.job(), r.nodeId());
        overdue.add(
            new ReplicaReported(
                r.job(),
                r.nodeId(),
                false,
                null,
                null,
                "no result "
                    + timeoutMs
                    + " ms + "
                    + entity.settings.resultGrace().toMillis()
                    + " ms grace after it started",
                TaskEntity.RESULT_OVERDUE,
                null,
                null,
                now));
      }
    }
    for (String node : nodes) {
      CompletionStage<Boolean> alive = entity.call(() -> entity.effects.isNodeAlive(node));
      entity.context.pipeToSelf(
          alive, (ok, failure) -> new LivenessAnswer(0, node, failure == null ? ok : null));
    }
    return overdue.isEmpty() ? entity.effect().none() : persistReplicaChange(s, overdue, true);
  }

  /**
   * Journals replica events together with what they decide (a quorum or unverifiable), in one
   * write, then acts on the new state: judge the nodes, end the task, or dispatch the replicas
   * still needed.
   *
   * @param mayDispatch false when the caller just learnt that no node can take a replica (the retry
   *     timer will)
   */
  EffectBuilder<Event, TaskState> persistReplicaChange(
      TaskState s, List<Event> events, boolean mayDispatch) {
    TaskState ns = s;
    for (Event e : events) ns = ns.apply(e);
    List<Event> all = new ArrayList<>(events);
    List<Event> decided = conclusion(ns);
    all.addAll(decided);
    for (Event e : decided) ns = ns.apply(e);
    boolean wasTerminal = s.status().terminal();
    // the verdicts and evidence this write decides go into the task's outbox in the same atomic
    // write
    EffectsDue due =
        wasTerminal
            ? lateEffects(s, ns, entity.now())
            : ns.status().terminal() ? effects(ns, entity.now()) : null;
    if (due != null) all.add(due);
    Event lastChange = all.get(all.size() - (due == null ? 1 : 2));
    return entity
        .effect()
        .persist(all)
        .thenRun(
            (TaskState after) -> {
              if (due != null && due.evidenceAt() != null) entity.evidenceQueued();
              if (wasTerminal) {
                entity.deliverOutbox(after);
              } else if (after.status().terminal()) {
                if (after.agreedKey() == null)
                  cancelActiveReplicas(after); // unverifiable: the rest can change nothing
                warnIfDisagreed(after);
                if (after.status() == Status.FAILED)
                  entity.effects.deadLetter(entity.taskId, after.spec(), after.error());
                entity.ended(
                    after,
                    after.status() == Status.COMPLETED ? TaskChange.COMPLETED : TaskChange.FAILED);
              } else {
                entity.announce(after, TaskEntity.changeOf(lastChange));
                if (mayDispatch) dispatchMissingReplicas(after);
              }
            });
  }

  /** The event that ends the task if its replicas now decide it. */
  List<Event> conclusion(TaskState s) {
    if (s.status().terminal() || !s.replicated()) return List.of();
    switch (quorumDecision(s)) {
      case dev.anchor.consensus.Quorum.Decision.Agreed a -> {
        int job =
            s.replicas().stream()
                .filter(r -> r.phase() == Replica.Phase.REPORTED && a.key().equals(r.outcomeKey()))
                .min(
                    java.util.Comparator.comparing(Replica::endedAt).thenComparingInt(Replica::job))
                .orElseThrow()
                .job();
        return List.of(new Verified(a.key(), a.agreeing(), a.disagreeing(), job, entity.now()));
      }
      case dev.anchor.consensus.Quorum.Decision.Unverifiable u -> {
        return List.of(
            new Failed(
                s.attempt(),
                null,
                "unverifiable: " + u.reason(),
                TaskEntity.UNVERIFIABLE,
                null,
                null,
                entity.now()));
      }
      default -> {
        return List.of();
      }
    }
  }

  dev.anchor.consensus.Quorum.Decision quorumDecision(TaskState s) {
    TaskSpec.Verification v = s.verification();
    List<dev.anchor.consensus.Quorum.Vote> votes =
        s.replicas().stream()
            .filter(r -> r.phase() == Replica.Phase.REPORTED)
            .sorted(java.util.Comparator.comparing(Replica::endedAt).thenComparingInt(Replica::job))
            .map(r -> new dev.anchor.consensus.Quorum.Vote(r.nodeId(), r.outcomeKey()))
            .toList();
    int inFlight = (int) s.replicas().stream().filter(r -> r.phase().active()).count();
    // attemptsDispatched of a verified task counts its replicas that were not withdrawn (see
    // replicaStatus)
    return dev.anchor.consensus.Quorum.decide(
        v.quorum(), v.maxReplicas(), votes, inFlight, s.attemptsDispatched());
  }

  /**
   * Starts dispatching as many replicas as the task still needs (initial ones, or more after a
   * disagreement).
   */
  void dispatchMissingReplicas(TaskState s) {
    if (s.status().terminal()) return;
    if (replicaDispatchInFlight) {
      reconcileAgain = true;
      return;
    }
    TaskSpec.Verification v = s.verification();
    int used = s.attemptsDispatched();
    int more =
        switch (quorumDecision(s)) {
          case dev.anchor.consensus.Quorum.Decision.DispatchMore d -> d.count();
          default -> 0;
        };
    int count = Math.min(Math.max(more, v.replicas() - used), v.maxReplicas() - used);
    if (count <= 0) return;
    replicaDispatchInFlight = true;
    entity.timers.cancel(TaskEntity.DISPATCH_TIMER);
    List<Integer> jobs = new ArrayList<>();
    for (int i = 1; i <= count; i++) jobs.add(s.attempt() + i);
    java.util.Set<String> excluded = new java.util.HashSet<>();
    for (Replica r : s.replicas()) excluded.add(r.nodeId());
    TaskSpec spec = s.spec();
    CompletionStage<List<TaskEffects.ReplicaPlacement>> placed =
        entity.call(() -> entity.effects.dispatchReplicas(entity.taskId, jobs, spec, excluded));
    entity.context.pipeToSelf(
        placed,
        (list, failure) ->
            failure != null || list == null
                ? new ReplicaDispatchOutcome(
                    List.of(), failure == null ? "dispatch answered nothing" : failure.toString())
                : new ReplicaDispatchOutcome(list, null));
  }

  Effect<Event, TaskState> onReplicaDispatchOutcome(TaskState s, ReplicaDispatchOutcome o) {
    replicaDispatchInFlight = false;
    boolean again = reconcileAgain;
    reconcileAgain = false;
    List<ReplicaOnNode> placed = new ArrayList<>();
    String reason = o.failure();
    for (TaskEffects.ReplicaPlacement p : o.placements()) {
      if (p.nodeId() != null && gone(p)) {
        // taken back or lost before we heard of it: not recorded, so it counts as still missing
        entity.effects.cancelRunning(entity.taskId, p.job(), p.nodeId());
        again = true;
      } else if (p.nodeId() != null) placed.add(new ReplicaOnNode(p.job(), p.nodeId()));
      else if (reason == null) reason = p.noNodeReason();
    }
    withdrawnEarly.clear();
    lostEarly.clear();
    if (s.status().terminal()) {
      for (ReplicaOnNode r : placed)
        entity.effects.cancelRunning(entity.taskId, r.job(), r.nodeId());
      return entity.effect().none();
    }
    if (o.failure() != null) {
      entity
          .context
          .getLog()
          .warn(
              "Task {}: dispatching replicas failed, trying again in {}: {}",
              entity.taskId,
              entity.settings.dispatchRetryInterval(),
              o.failure());
    }
    if (placed.isEmpty() && o.failure() == null && reason != null) {
      Effect<Event, TaskState> givenUp = abandonSpotCheck(s, reason);
      if (givenUp != null) return givenUp;
    }
    List<Event> events = new ArrayList<>();
    long now = entity.now();
    if (!placed.isEmpty()) events.add(new ReplicasDispatched(placed, now));
    boolean newReason = reason != null && o.failure() == null && !reason.equals(s.waitingReason());
    if (newReason) events.add(new Waiting(reason, now));
    boolean retryLater = reason != null;
    if (!placed.isEmpty()) entity.startLivenessChecks();
    if (retryLater)
      entity.timers.startSingleTimer(
          TaskEntity.DISPATCH_TIMER, new Reconcile(), entity.settings.dispatchRetryInterval());
    if (events.isEmpty()) {
      if (again && !retryLater) dispatchMissingReplicas(s);
      return entity.effect().none();
    }
    return persistReplicaChange(s, events, !retryLater);
  }

  private boolean gone(TaskEffects.ReplicaPlacement p) {
    return withdrawnEarly.contains(p.job() + "@" + p.nodeId()) || lostEarly.contains(p.nodeId());
  }

  /**
   * A spot-check the user did not ask for must not hold a task hostage: when no second node can
   * take the check (the other one left) and nothing runs any more, the task ends with the result it
   * has, unverified.
   */
  Effect<Event, TaskState> abandonSpotCheck(TaskState s, String reason) {
    boolean requested = s.spec().verification() != null;
    if (requested || s.replicas().stream().anyMatch(r -> r.phase().active())) return null;
    Replica only =
        s.replicas().stream()
            .filter(r -> r.phase() == Replica.Phase.REPORTED)
            .findFirst()
            .orElse(null);
    if (only == null) return null;
    entity
        .context
        .getLog()
        .info(
            "Task {}: spot-check abandoned ({}); the result of {} stands unverified",
            entity.taskId,
            reason,
            only.nodeId());
    Event end =
        only.success()
            ? new Completed(
                only.job(),
                only.nodeId(),
                only.result(),
                only.logs(),
                only.durationMs() == null ? 0 : only.durationMs(),
                entity.now())
            : new Failed(
                only.job(),
                only.nodeId(),
                only.error(),
                only.errorKind(),
                only.logs(),
                only.durationMs(),
                entity.now());
    return entity
        .effect()
        .persist(end)
        .thenRun(
            (TaskState ns) -> {
              if (ns.status() == Status.FAILED)
                entity.effects.deadLetter(entity.taskId, ns.spec(), ns.error());
              entity.ended(
                  ns, ns.status() == Status.COMPLETED ? TaskChange.COMPLETED : TaskChange.FAILED);
            });
  }

  void onReplicatedRecovered(TaskState s) {
    if (s.status() == Status.NEW) return;
    if (s.status().terminal()) {
      // a crash between the decision and its confirmed delivery left verdicts or evidence in the
      // outbox
      if (s.effectsDue()) entity.deliverOutbox(s);
      else entity.passivate();
      return;
    }
    if (s.replicas().stream().anyMatch(r -> r.phase().active())) {
      entity.startLivenessChecks();
      entity.context.getSelf().tell(new CheckLiveness());
    }
    dispatchMissingReplicas(s);
  }

  /**
   * Verdicts for every node that voted, and fraud evidence when the votes differed: null when there
   * are none.
   */
  static EffectsDue effects(TaskState s, long now) {
    List<TaskState.DueVerdict> verdicts = new ArrayList<>();
    if (s.agreedKey() != null) {
      for (Replica r : s.replicas()) {
        if (r.phase() == Replica.Phase.REPORTED) {
          verdicts.add(new TaskState.DueVerdict(r.nodeId(), s.agreedKey().equals(r.outcomeKey())));
        }
      }
    }
    Long evidenceAt = disagreed(s) ? s.completedAt() : null;
    return verdicts.isEmpty() && evidenceAt == null
        ? null
        : new EffectsDue(verdicts, evidenceAt, now);
  }

  private static boolean disagreed(TaskState s) {
    long distinct =
        s.replicas().stream()
            .filter(r -> r.phase() == Replica.Phase.REPORTED)
            .map(Replica::outcomeKey)
            .distinct()
            .count();
    return !faultyNodes(s).isEmpty() || distinct > 1;
  }

  private void warnIfDisagreed(TaskState s) {
    if (disagreed(s)) {
      List<String> faulty = faultyNodes(s);
      entity
          .context
          .getLog()
          .warn(
              "Task {}: replicas disagreed; faulty: {}",
              entity.taskId,
              faulty.isEmpty() ? "(no quorum)" : faulty);
    }
  }

  /** A replica that reported after the decision is judged against it. */
  static EffectsDue lateEffects(TaskState before, TaskState after, long now) {
    if (after.agreedKey() == null) return null;
    List<TaskState.DueVerdict> verdicts = new ArrayList<>();
    boolean evidence = false;
    for (Replica r : after.replicas()) {
      Replica was = before.replica(r.job(), r.nodeId());
      if (r.phase() != Replica.Phase.REPORTED || was == null || !was.phase().active()) continue;
      boolean agreed = after.agreedKey().equals(r.outcomeKey());
      verdicts.add(new TaskState.DueVerdict(r.nodeId(), agreed));
      evidence |= !agreed;
    }
    if (verdicts.isEmpty()) return null;
    return new EffectsDue(verdicts, evidence ? after.completedAt() : null, now);
  }

  static List<String> faultyNodes(TaskState s) {
    if (s.agreedKey() == null) return List.of();
    return s.replicas().stream()
        .filter(r -> r.phase() == Replica.Phase.REPORTED && !s.agreedKey().equals(r.outcomeKey()))
        .map(Replica::nodeId)
        .distinct()
        .toList();
  }

  void cancelActiveReplicas(TaskState s) {
    for (Replica r : s.replicas()) {
      if (r.phase().active()) entity.effects.cancelRunning(entity.taskId, r.job(), r.nodeId());
    }
  }
}
