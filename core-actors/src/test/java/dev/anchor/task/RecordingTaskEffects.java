package dev.anchor.task;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * A {@link TaskEffects} that records every call. Dispatch answers come from a queue the test fills
 * (each entry a supplier of the answer, so a test can hand out a future it completes later); when
 * the queue is empty every dispatch is enqueued on {@link #defaultNode}.
 */
public final class RecordingTaskEffects implements TaskEffects {
  public record Dispatch(String taskId, int attempt, TaskSpec spec) {}

  public record CancelRunning(String taskId, int attempt, String nodeId) {}

  public record DeadLetter(String taskId, TaskSpec spec, String error) {}

  public record Change(TaskView view, String eventName) {}

  public final List<Dispatch> dispatches = new CopyOnWriteArrayList<>();
  public final List<CancelRunning> cancels = new CopyOnWriteArrayList<>();

  /** Task ids whose waiting jobs were to be dropped from the queue (cancelled tasks). */
  public final List<String> dropped = new CopyOnWriteArrayList<>();

  public final List<DeadLetter> deadLetters = new CopyOnWriteArrayList<>();
  public final List<Change> changes = new CopyOnWriteArrayList<>();
  public final List<String> livenessChecks = new CopyOnWriteArrayList<>();
  public final Map<String, Boolean> alive = new ConcurrentHashMap<>();
  private final Deque<Supplier<CompletionStage<Placement>>> answers = new ArrayDeque<>();
  public volatile String defaultNode = "node-1";

  @Override
  public boolean isPool(String placedOn) {
    return placedOn != null && placedOn.startsWith("pool:");
  }

  public record ReplicaDispatch(
      String taskId, List<Integer> jobs, java.util.Set<String> excluded) {}

  public record Verdict(String nodeId, String taskId, boolean agreed) {}

  public record Mismatch(
      String taskId, String agreedKey, List<Replica> replicas, List<String> faultyNodes, long at) {}

  public final List<ReplicaDispatch> replicaDispatches = new CopyOnWriteArrayList<>();
  public final List<Verdict> verdicts = new CopyOnWriteArrayList<>();
  public final List<Mismatch> mismatches = new CopyOnWriteArrayList<>();

  /**
   * The verdicts and evidence whose receiver confirmed them (the calls above include unconfirmed
   * ones).
   */
  public final List<Verdict> confirmedVerdicts = new CopyOnWriteArrayList<>();

  public final List<Mismatch> confirmedMismatches = new CopyOnWriteArrayList<>();

  /**
   * Nodes replicas are placed on, in order of preference (the first not excluded wins); empty =
   * none available.
   */
  public volatile List<String> replicaNodes =
      List.of("node-1", "node-2", "node-3", "node-4", "node-5", "node-6");

  @Override
  public CompletionStage<List<ReplicaPlacement>> dispatchReplicas(
      String taskId, List<Integer> jobs, TaskSpec spec, java.util.Set<String> excludedNodes) {
    replicaDispatches.add(
        new ReplicaDispatch(taskId, List.copyOf(jobs), java.util.Set.copyOf(excludedNodes)));
    java.util.Set<String> taken = new java.util.HashSet<>(excludedNodes);
    List<ReplicaPlacement> out = new java.util.ArrayList<>();
    for (int job : jobs) {
      String node = replicaNodes.stream().filter(n -> !taken.contains(n)).findFirst().orElse(null);
      if (node == null) {
        out.add(
            new ReplicaPlacement(
                job, null, "every available node already holds a replica of this task"));
      } else {
        taken.add(node);
        out.add(new ReplicaPlacement(job, node, null));
      }
    }
    CompletableFuture<Void> gate = replicaGate;
    return gate == null ? CompletableFuture.completedFuture(out) : gate.thenApply(v -> out);
  }

  /** When set, replica placements are answered only once it completes. */
  public volatile CompletableFuture<Void> replicaGate;

  @Override
  public CompletionStage<org.apache.pekko.Done> verdict(
      String nodeId, String taskId, boolean agreed) {
    Verdict v = new Verdict(nodeId, taskId, agreed);
    verdicts.add(v);
    return receiverAnswer()
        .thenApply(
            done -> {
              confirmedVerdicts.add(v);
              return done;
            });
  }

  /**
   * What verdict and evidence receivers answer: confirmed at once unless a test sets this (e.g. a
   * future it never completes, for a crash before the confirmation).
   */
  public volatile Supplier<CompletionStage<org.apache.pekko.Done>> receivers =
      () -> CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());

  private CompletionStage<org.apache.pekko.Done> receiverAnswer() {
    return receivers.get();
  }

  @Override
  public CompletionStage<org.apache.pekko.Done> mismatch(
      String taskId,
      TaskSpec spec,
      String agreedKey,
      List<Replica> replicas,
      List<String> faultyNodes,
      long at) {
    Mismatch m = new Mismatch(taskId, agreedKey, replicas, faultyNodes, at);
    mismatches.add(m);
    return receiverAnswer()
        .thenApply(
            done -> {
              confirmedMismatches.add(m);
              return done;
            });
  }

  public synchronized RecordingTaskEffects thenAnswer(Placement placement) {
    answers.add(() -> CompletableFuture.completedFuture(placement));
    return this;
  }

  public synchronized RecordingTaskEffects thenAnswer(Supplier<CompletionStage<Placement>> answer) {
    answers.add(answer);
    return this;
  }

  @Override
  public CompletionStage<Placement> dispatch(String taskId, int attempt, TaskSpec spec) {
    dispatches.add(new Dispatch(taskId, attempt, spec));
    Supplier<CompletionStage<Placement>> next;
    synchronized (this) {
      next = answers.poll();
    }
    CompletionStage<Placement> answer =
        next != null
            ? next.get()
            : CompletableFuture.completedFuture(new Placement.Enqueued(defaultNode));
    // like the job queue's placement index: where each task's job went, for placedOn after a
    // restart
    return answer.thenApply(
        p -> {
          if (p instanceof Placement.Enqueued e)
            placed.put(taskId, new Placed(attempt, e.nodeId()));
          return p;
        });
  }

  public record Placed(int attempt, String nodeId) {}

  /** taskId → its last enqueued job, as the job queue's placement index would remember it. */
  public final java.util.Map<String, Placed> placed =
      new java.util.concurrent.ConcurrentHashMap<>();

  @Override
  public CompletionStage<java.util.Optional<String>> placedOn(String taskId, int attempt) {
    Placed p = placed.get(taskId);
    return CompletableFuture.completedFuture(
        p != null && p.attempt() == attempt
            ? java.util.Optional.of(p.nodeId())
            : java.util.Optional.empty());
  }

  @Override
  public void cancelRunning(String taskId, int attempt, String nodeId) {
    cancels.add(new CancelRunning(taskId, attempt, nodeId));
  }

  @Override
  public void dropQueuedJobs(String taskId) {
    dropped.add(taskId);
  }

  @Override
  public CompletionStage<Boolean> isNodeAlive(String nodeId) {
    livenessChecks.add(nodeId);
    return CompletableFuture.completedFuture(alive.getOrDefault(nodeId, true));
  }

  @Override
  public void deadLetter(String taskId, TaskSpec spec, String error) {
    deadLetters.add(new DeadLetter(taskId, spec, error));
  }

  @Override
  public void changed(TaskView view, TaskChange change) {
    changes.add(new Change(view, change.eventName()));
  }

  public List<String> changeNames() {
    return changes.stream().map(Change::eventName).toList();
  }
}
