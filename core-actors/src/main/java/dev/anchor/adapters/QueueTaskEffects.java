package dev.anchor.adapters;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.consensus.FraudRecord;
import dev.anchor.consensus.FraudStore;
import dev.anchor.consensus.ReplicaEvidence;
import dev.anchor.feed.TaskChangeWriter;
import dev.anchor.feed.TaskJson;
import dev.anchor.queue.JobMessage;
import dev.anchor.queue.JobQueue;
import dev.anchor.scheduling.CancelJob;
import dev.anchor.scheduling.NodeRegistry;
import dev.anchor.task.Replica;
import dev.anchor.task.TaskChange;
import dev.anchor.task.TaskEffects;
import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's side effects of task entities: node choice, Redis Streams, the change feed,
 * cancel broadcasts.
 */
public final class QueueTaskEffects implements TaskEffects {
  private static final Logger log = LoggerFactory.getLogger(QueueTaskEffects.class);
  private final NodeRegistry registry;
  private final JobQueue queue;
  private final TaskChangeWriter changes;
  private final Consumer<CancelJob> cancelBroadcast;
  private final ObjectMapper json;
  private final long startedAtMs = System.currentTimeMillis();
  private final long warmUpMs;
  private final Consumer<TaskView> dagNodeEnded;
  private volatile Consensus consensus = Consensus.NONE;

  /**
   * Where verification results go: verdicts to the node entities, evidence to the fraud store
   * (null: not kept), and the fraction of jobs on unproven nodes that are spot-checked on a second
   * node.
   */
  public record Consensus(VerdictSink verdicts, FraudStore fraud, double spotCheckFraction) {
    public static final Consensus NONE =
        new Consensus(
            (n, t, a) -> CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance()),
            null,
            0);
  }

  /** Delivers a verdict to the node's entity; completes once the entity recorded it. */
  @FunctionalInterface
  public interface VerdictSink {
    CompletionStage<org.apache.pekko.Done> verdict(String nodeId, String taskId, boolean agreed);
  }

  private final java.util.concurrent.ExecutorService evidenceWriter =
      java.util.concurrent.Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "anchor-fraud-evidence");
            t.setDaemon(true);
            return t;
          });

  public QueueTaskEffects(
      NodeRegistry registry,
      JobQueue queue,
      TaskChangeWriter changes,
      Consumer<CancelJob> cancelBroadcast,
      ObjectMapper json,
      long warmUpMs) {
    this(registry, queue, changes, cancelBroadcast, json, warmUpMs, v -> {});
  }

  /**
   * @param dagNodeEnded told the final view of every task that ended (DAG nodes are recognised by
   *     their task id)
   */
  public QueueTaskEffects(
      NodeRegistry registry,
      JobQueue queue,
      TaskChangeWriter changes,
      Consumer<CancelJob> cancelBroadcast,
      ObjectMapper json,
      long warmUpMs,
      Consumer<TaskView> dagNodeEnded) {
    this.dagNodeEnded = dagNodeEnded;
    this.registry = registry;
    this.queue = queue;
    this.changes = changes;
    this.cancelBroadcast = cancelBroadcast;
    this.json = json;
    this.warmUpMs = warmUpMs;
  }

  public QueueTaskEffects withConsensus(Consensus c) {
    this.consensus = c;
    return this;
  }

  @Override
  public CompletionStage<Placement> dispatch(String taskId, int attempt, TaskSpec spec) {
    long now = System.currentTimeMillis();
    return switch (registry.choose(spec, Set.of(), now)) {
      case NodeRegistry.Choice.Chosen c -> {
        boolean proven = registry.isProven(c.nodeId());
        // a spot-check needs a second node; with none, the job runs unchecked rather than waiting
        // forever
        boolean spotCheck =
            !proven
                && spec.verification() == null
                && consensus.spotCheckFraction() > 0
                && java.util.concurrent.ThreadLocalRandom.current().nextDouble()
                    < consensus.spotCheckFraction()
                && registry.hasOtherEligible(spec, c.nodeId(), now);
        // a job whose node matters (verified, spot-checked) or that the node can start soon goes
        // onto the node's own stream; any other waits in its pool for the first node with a free
        // slot, so a node never holds a backlog that would be stranded if it died. The queue
        // checks the room in the same script that places the job.
        int limit = registry.placeLimit(c.nodeId(), attempt > 1);
        JobQueue.Pool pool = poolOf(spec);
        if (spec.verification() != null) {
          yield place(taskId, attempt, spec, c.nodeId(), null, limit)
              .thenApply(
                  where ->
                      where != null
                          ? (Placement) new Placement.Enqueued(c.nodeId(), proven, false)
                          : new Placement.NoEligibleNode(FULL));
        }
        if (spotCheck) {
          // a node without room runs the job unchecked from the pool, like every parked job
          yield place(taskId, attempt, spec, c.nodeId(), null, limit)
              .thenCompose(
                  where ->
                      where != null
                          ? CompletableFuture.completedFuture(
                              (Placement) new Placement.Enqueued(c.nodeId(), proven, true))
                          : pooled(taskId, attempt, spec, c.nodeId(), pool, limit, proven));
        }
        yield pooled(taskId, attempt, spec, c.nodeId(), pool, limit, proven);
      }
      case NodeRegistry.Choice.None n ->
          CompletableFuture.completedFuture(new Placement.NoEligibleNode(n.reason()));
    };
  }

  /** On the node's stream if it has room, else parked in its pool (named with the pool then). */
  private CompletionStage<Placement> pooled(
      String taskId,
      int attempt,
      TaskSpec spec,
      String nodeId,
      JobQueue.Pool pool,
      int limit,
      boolean proven) {
    return place(taskId, attempt, spec, nodeId, pool, limit)
        .thenApply(
            where ->
                nodeId.equals(where)
                    ? (Placement) new Placement.Enqueued(nodeId, proven, false)
                    : new Placement.Enqueued(pool.id(), false, false));
  }

  /** Why a job that must run on a node of its choosing waits (the same text each time). */
  static final String FULL =
      "every eligible node tried holds as many jobs as it may (its capacity plus the prefetch);"
          + " waiting for room";

  private CompletionStage<String> place(
      String taskId, int attempt, TaskSpec spec, String nodeId, JobQueue.Pool pool, int limit) {
    String specJson;
    try {
      specJson = json.writeValueAsString(spec);
    } catch (Exception e) {
      return CompletableFuture.failedFuture(e);
    }
    return queue.place(
        nodeId, new JobMessage(taskId, attempt, spec.priority(), specJson), pool, limit);
  }

  /** The task's requirement class: runtime, GPU or not, least RAM in MB. */
  static JobQueue.Pool poolOf(TaskSpec spec) {
    return new JobQueue.Pool(
        dev.anchor.task.Runtimes.canonical(spec.runtime()),
        spec.requirements().gpuRequired(),
        Math.round(spec.requirements().minRamGb() * 1024));
  }

  @Override
  public CompletionStage<List<ReplicaPlacement>> dispatchReplicas(
      String taskId, List<Integer> jobs, TaskSpec spec, Set<String> excludedNodes) {
    long now = System.currentTimeMillis();
    Set<String> excluded = new java.util.HashSet<>(excludedNodes);
    Set<String> hosts = new java.util.HashSet<>();
    for (String n : excludedNodes) {
      String h = registry.hostOf(n);
      if (h != null) hosts.add(h);
    }
    Set<String> full = new java.util.HashSet<>();
    // one after the other: each replica's node is excluded from the next one's choice
    List<CompletableFuture<ReplicaPlacement>> placements = new ArrayList<>();
    CompletableFuture<?> previous = CompletableFuture.completedFuture(null);
    for (int job : jobs) {
      CompletableFuture<ReplicaPlacement> p =
          previous.thenCompose(v -> placeReplica(taskId, job, spec, excluded, hosts, full, now));
      placements.add(p);
      previous = p;
    }
    return CompletableFuture.allOf(placements.toArray(CompletableFuture[]::new))
        .thenApply(v -> placements.stream().map(CompletableFuture::join).toList());
  }

  /**
   * A replica of a verification the user asked for goes only to a node with room (its capacity plus
   * the prefetch), trying the next best node while one is full; with none, it waits and its task
   * tries again (its dispatch retry). The second replica of a spot-check is still placed on its
   * node whatever that node holds: a spot-check whose second node cannot be found is given up (the
   * result stands unchecked), and refusing it for a full queue would give up checks under load.
   */
  private CompletableFuture<ReplicaPlacement> placeReplica(
      String taskId,
      int job,
      TaskSpec spec,
      Set<String> excluded,
      Set<String> hosts,
      Set<String> full,
      long now) {
    Set<String> skipped = new java.util.HashSet<>(excluded);
    skipped.addAll(full);
    return switch (registry.choose(spec, skipped, hosts, now)) {
      case NodeRegistry.Choice.Chosen c -> {
        int limit =
            spec.verification() != null
                ? registry.placeLimit(c.nodeId(), false)
                : Integer.MAX_VALUE;
        yield place(taskId, job, spec, c.nodeId(), null, limit)
            .toCompletableFuture()
            .handle(
                (where, failure) -> {
                  if (failure != null)
                    return CompletableFuture.completedFuture(
                        new ReplicaPlacement(
                            job,
                            null,
                            "could not queue a replica on " + c.nodeId() + ": " + failure));
                  if (where == null) {
                    full.add(c.nodeId());
                    return placeReplica(taskId, job, spec, excluded, hosts, full, now);
                  }
                  excluded.add(c.nodeId());
                  String h = registry.hostOf(c.nodeId());
                  if (h != null) hosts.add(h);
                  return CompletableFuture.completedFuture(
                      new ReplicaPlacement(job, c.nodeId(), null));
                })
            .thenCompose(f -> f);
      }
      case NodeRegistry.Choice.None n ->
          CompletableFuture.completedFuture(
              new ReplicaPlacement(job, null, full.isEmpty() ? n.reason() : FULL));
    };
  }

  @Override
  public CompletionStage<org.apache.pekko.Done> verdict(
      String nodeId, String taskId, boolean agreed) {
    return consensus.verdicts().verdict(nodeId, taskId, agreed);
  }

  @Override
  public CompletionStage<org.apache.pekko.Done> mismatch(
      String taskId,
      TaskSpec spec,
      String agreedKey,
      List<Replica> replicas,
      List<String> faultyNodes,
      long at) {
    FraudStore store = consensus.fraud();
    if (store == null)
      return CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());
    List<ReplicaEvidence> evidence =
        replicas.stream()
            .filter(
                r -> r.phase() == Replica.Phase.REPORTED || r.phase() == Replica.Phase.NO_RESULT)
            .map(
                r ->
                    new ReplicaEvidence(
                        r.nodeId(),
                        r.job(),
                        r.outcomeKey(),
                        r.result(),
                        r.error(),
                        evidenceStart(r),
                        r.endedAt(),
                        r.durationMs(),
                        agreedKey != null && agreedKey.equals(r.outcomeKey())))
            .toList();
    FraudRecord record =
        new FraudRecord(
            taskId,
            taskId,
            spec.runtime(),
            spec.codeHash(),
            agreedKey,
            evidence,
            faultyNodes,
            at,
            store.expiresAt(at));
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            store.save(record); // an upsert by task id: storing it again after a crash replaces it
            return org.apache.pekko.Done.getInstance();
          } catch (RuntimeException e) {
            log.warn(
                "could not store fraud evidence for task {} (faulty: {}), the task tries again: {}",
                taskId,
                faultyNodes,
                e.toString());
            throw e;
          }
        },
        evidenceWriter);
  }

  /**
   * When a replica started: as its node said, else (the start notice was not seen, e.g. it raced
   * the result or the coordinator restarted) its end less the run time the node measured, else its
   * dispatch. Evidence never lacks it.
   */
  static long evidenceStart(Replica r) {
    if (r.startedAt() != null) return r.startedAt();
    if (r.endedAt() != null && r.durationMs() != null)
      return Math.max(r.dispatchedAt(), r.endedAt() - r.durationMs());
    return r.dispatchedAt();
  }

  @Override
  public boolean isPool(String placedOn) {
    return JobQueue.isPool(placedOn);
  }

  @Override
  public void cancelRunning(String taskId, int attempt, String nodeId) {
    if (!JobQueue.isPool(nodeId)) {
      cancelBroadcast.accept(new CancelJob(taskId, attempt, nodeId));
      return;
    }
    // the task still believes its job is parked: a worker may have pulled it and not said so yet,
    // and the placement names that worker
    try {
      queue
          .placement(taskId)
          .thenAccept(
              p -> {
                if (p != null && p.attempt() == attempt && !JobQueue.isPool(p.nodeId()))
                  cancelBroadcast.accept(new CancelJob(taskId, attempt, p.nodeId()));
              });
    } catch (RuntimeException e) {
      log.debug("could not look up where task {} runs: {}", taskId, e.toString());
    }
  }

  @Override
  public void dropQueuedJobs(String taskId) {
    try {
      queue
          .markCancelled(taskId)
          .whenComplete(
              (n, e) -> {
                if (e != null)
                  log.warn(
                      "could not mark task {} cancelled in the queue (its waiting job, if any, may"
                          + " still run; its result is refused): {}",
                      taskId,
                      e.toString());
              });
    } catch (RuntimeException e) {
      log.warn("could not mark task {} cancelled in the queue: {}", taskId, e.toString());
    }
  }

  @Override
  public CompletionStage<Boolean> isNodeAlive(String nodeId) {
    // a parked job waits in Redis, not on a node; the worker that pulls it says so when it starts
    if (JobQueue.isPool(nodeId) || registry.isAlive(nodeId))
      return CompletableFuture.completedFuture(true);
    long wait = warmUpMs - (System.currentTimeMillis() - startedAtMs);
    if (wait <= 0) return CompletableFuture.completedFuture(false);
    // just after a coordinator (re)start the registry has not heard every heartbeat yet: ask again
    // when it has
    return CompletableFuture.supplyAsync(
        () -> registry.isAlive(nodeId),
        CompletableFuture.delayedExecutor(wait, TimeUnit.MILLISECONDS));
  }

  @Override
  public void deadLetter(String taskId, TaskSpec spec, String error) {
    try {
      queue.deadLetter(taskId, json.writeValueAsString(spec), error);
    } catch (Exception e) {
      log.warn("could not dead-letter task {}: {}", taskId, e.toString());
    }
  }

  @Override
  public void changed(TaskView view, TaskChange change) {
    // the state counters follow from the summaries themselves (StatusCounts), in the same script
    // call
    dev.anchor.metrics.AnchorMetrics.taskChanged(view, change);
    if (change.ended()) {
      try {
        dagNodeEnded.accept(view);
      } catch (RuntimeException e) {
        log.warn(
            "could not tell the DAG of task {} that it ended: {}", view.taskId(), e.toString());
      }
    }
    try {
      Long orderAt =
          change == TaskChange.SUBMITTED || change.ended()
              ? (view.submittedAt() == null
                  ? Long.valueOf(System.currentTimeMillis())
                  : view.submittedAt())
              : null;
      changes
          .write(
              view.taskId(),
              change.eventName(),
              TaskJson.write(view),
              TaskJson.summary(view),
              orderAt)
          .whenComplete(
              (id, e) -> {
                if (e != null)
                  log.warn("change feed write failed for task {}: {}", view.taskId(), e.toString());
              });
    } catch (RuntimeException e) {
      log.warn("change feed write failed for task {}: {}", view.taskId(), e.toString());
    }
  }

  @Override
  public CompletionStage<java.util.Optional<String>> placedOn(String taskId, int attempt) {
    return queue
        .placement(taskId)
        .thenApply(
            p ->
                java.util.Optional.ofNullable(p)
                    .filter(x -> x.attempt() == attempt)
                    .map(JobQueue.Placement::nodeId));
  }
}
