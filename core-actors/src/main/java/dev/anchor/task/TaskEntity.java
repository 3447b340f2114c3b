package dev.anchor.task;

import dev.anchor.CborSerializable;
import dev.anchor.persistence.LifecycleTags;
import dev.anchor.task.TaskEffects.Placement;
import dev.anchor.task.TaskState.Status;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EffectBuilder;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * One task's life, event-sourced: Queued → (Dispatched) → Running → Completed | Failed | Cancelled,
 * with retries. A verified task (replicas on several nodes) is handled by {@link ReplicatedRun};
 * its state and what each event means live in {@link TaskState}, what the API shows in {@link
 * TaskViews}.
 *
 * <p>A normal run journals two events: {@link Submitted} and {@link Completed}. Where the attempt
 * was dispatched and when it started are kept in memory (the view and the change feed show them at
 * once) and journaled inside the outcome event; after a restart the job queue says where the
 * attempt is ({@link TaskEffects#placedOn}), so it is not queued twice. A retried failure adds
 * {@link AttemptFailed} + {@link RetryScheduled} (one atomic write); the final failure is a single
 * {@link Failed}. {@link Waiting} is written only when the reason no node can take the task
 * changes, so a task waiting for hours does not grow its journal.
 *
 * <p>Rules a caller relies on:
 *
 * <ul>
 *   <li>Submit is idempotent: a second Submit answers with the current view and journals nothing.
 *   <li>A result is recorded once: a result for another attempt than the current one, a second
 *       result for the same attempt, or any result after the task ended is acknowledged with
 *       success and changes nothing, so the worker acks its stream entry and moves on.
 *   <li>Cancel of a Cancelled task answers the unchanged view; Cancel of a Completed or Failed task
 *       answers an error ("already Completed"), so HTTP can answer 409; Cancel of an unknown task
 *       answers an error.
 *   <li>Errors from the user's code (the worker reports them with {@code retryable=false}) fail the
 *       task at once unless its {@link TaskSpec.RetryPolicy#retryUserErrors()} is set. A lost node
 *       is always retried; it counts as an attempt.
 *   <li>Nothing is stranded by a crash: on recovery a task that was journaled but never dispatched
 *       is dispatched, a scheduled retry is re-armed for its remaining delay, and a
 *       dispatched/running attempt has its node checked.
 *   <li>A running attempt of a task with a {@code timeoutMs} that reports nothing for {@code
 *       timeoutMs} plus {@link TaskSettings#resultGrace()} is stopped and failed as {@link
 *       #RESULT_OVERDUE} (retryable).
 *   <li>A task that ended asks its shard to passivate it (remember-entities would otherwise keep it
 *       alive).
 * </ul>
 */
public final class TaskEntity
    extends EventSourcedBehavior<TaskEntity.Command, TaskEntity.Event, TaskState> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Task");

  /** {@code errorKind} of an attempt that ended because its node left the cluster. */
  public static final String NODE_LOST = "NodeLost";

  static final String DISPATCH_TIMER = "dispatch";
  private static final String LIVENESS_TIMER = "liveness";
  private static final String DEADLINE_TIMER = "deadline";
  private static final String IDLE_TIMER = "idle-ended";
  private static final String JOB_CHECK_TIMER = "job-check";

  /**
   * Tasks are not passivated by idleness while they run (their timers are their liveness checks);
   * ended ones are.
   */
  private static final Duration ENDED_IDLE = Duration.ofSeconds(30);

  /** {@code errorKind} of a verified task whose replicas could not reach a quorum. */
  public static final String UNVERIFIABLE = "Unverifiable";

  static final String OUTBOX_TIMER = "outbox";

  /**
   * Undelivered verdicts and evidence are tried again after this, doubling up to {@link
   * #OUTBOX_MAX_BACKOFF}.
   */
  static final Duration OUTBOX_FIRST_BACKOFF = Duration.ofSeconds(1);

  static final Duration OUTBOX_MAX_BACKOFF = Duration.ofMinutes(1);

  /**
   * {@code errorKind} of an attempt that reported no result within its timeout plus the grace
   * period.
   */
  public static final String RESULT_OVERDUE = "ResultOverdue";

  // ---------------------------------------------------------------- commands

  public sealed interface Command extends CborSerializable {}

  /**
   * Create the task. Answers the view once {@link Submitted} is journaled (or at once if it already
   * exists).
   */
  public record Submit(TaskSpec spec, ActorRef<StatusReply<TaskView>> replyTo) implements Command {}

  /** Answers the view; a task never submitted answers status {@link TaskView#UNKNOWN}. */
  public record Get(ActorRef<TaskView> replyTo) implements Command {}

  /**
   * Answers the full state, the in-memory progress of the current attempt included (which node it
   * is on, whether it started): for tests and diagnostics; the API shows {@link Get}'s view.
   */
  public record Inspect(ActorRef<TaskState> replyTo) implements Command {}

  /**
   * Starts the entity (recovering it) if it is not running: sent after a crash to every task the
   * journal still has open. Answers whether the task is still open; one that ended, or was never
   * submitted, passivates.
   */
  public record Wake(ActorRef<Boolean> replyTo) implements Command {}

  /**
   * {@link Wake}, and the current attempt's job is checked against the queue: Redis came back or
   * restarted and may have lost its last writes (an append-only file synced once a second). A task
   * whose attempt was put on a node's stream and not started there asks the queue whether the job
   * is still placed, and queues it again if it is gone: the journal, not Redis, says what must run.
   * A started attempt is left to its worker (which reports over the cluster, not Redis) and to the
   * liveness checks.
   */
  public record CheckJob(ActorRef<Boolean> replyTo) implements Command {}

  /**
   * What the queue said about the job of {@code attempt} on {@code nodeId}: still placed there, or
   * not (or no answer).
   */
  record JobChecked(int attempt, String nodeId, Boolean placed) implements Command {}

  /**
   * An ended task read again (a GET, a late report) passivates once it has been left alone for a
   * while.
   */
  record IdleEnded() implements Command {}

  /** The worker on {@code nodeId} picked up {@code attempt}. */
  public record Started(int attempt, String nodeId) implements Command {}

  /**
   * The worker's outcome of {@code attempt}. The reply is a success once the outcome is journaled
   * (or known to be a duplicate); only then may the worker acknowledge its stream entry.
   *
   * @param errorKind e.g. "UserError", "Timeout", "Runtime"; free text kept for the view
   * @param retryable false for errors another try cannot fix, such as an exception thrown by the
   *     user's code
   */
  public record ReportResult(
      int attempt,
      String nodeId,
      boolean success,
      String resultJson,
      String error,
      String errorKind,
      boolean retryable,
      String logs,
      long durationMs,
      ActorRef<StatusReply<Done>> replyTo)
      implements Command {}

  /**
   * {@code nodeId} left the cluster; an attempt running there fails and is retried.
   *
   * @param attempt the attempt (a replica's job) the word is about: a late one about an attempt the
   *     task has moved past, possibly to the same node or pool, is ignored. 0 (also what a message
   *     from a node of an earlier version, which lacks the field, reads as): whichever attempt is
   *     on the node.
   */
  public record NodeLost(String nodeId, int attempt) implements Command {
    public NodeLost(String nodeId) {
      this(nodeId, 0);
    }
  }

  /** Cancel a queued or running task; see the class comment for already-ended tasks. */
  public record Cancel(ActorRef<StatusReply<TaskView>> replyTo) implements Command {}

  /**
   * The job of {@code attempt} was taken off {@code nodeId}'s queue before the node read it (the
   * node is draining or quarantined): place it elsewhere. Not an attempt that failed.
   */
  public record Withdrawn(int attempt, String nodeId) implements Command {}

  /**
   * The job of {@code attempt}, not read by {@code nodeId} (which the cluster cannot reach), was
   * moved to the shared pool {@code poolId}, where any fitting node takes it: the attempt waits
   * there now. Not an attempt that failed.
   */
  public record Relocated(int attempt, String nodeId, String poolId) implements Command {}

  /**
   * The sharding stop message: stop now (sent by the shard after this entity asked to passivate).
   */
  public record Stop() implements Command {}

  /**
   * How a {@link TaskEffects#dispatch} call ended; exactly one of the three outcome fields is set.
   */
  record DispatchOutcome(
      int attempt, String enqueuedOn, String noNodeReason, String failure, String verifyReason)
      implements Command {
    DispatchOutcome(int attempt, String enqueuedOn, String noNodeReason, String failure) {
      this(attempt, enqueuedOn, noNodeReason, failure, null);
    }
  }

  /**
   * How a {@link TaskEffects#dispatchReplicas} call ended; {@code failure} set when the call itself
   * failed.
   */
  record ReplicaDispatchOutcome(List<TaskEffects.ReplicaPlacement> placements, String failure)
      implements Command {}

  /**
   * After a restart: where the queue says the current attempt's job was put (null: nowhere,
   * dispatch it).
   */
  record Located(int attempt, String nodeId) implements Command {}

  /** Time to deliver the verdicts and evidence still due (again). */
  record DeliverOutbox() implements Command {}

  /**
   * How delivering the outbox went: which verdicts the node entities confirmed, whether the
   * evidence was stored.
   *
   * @param failure why something was not confirmed, null when everything was
   */
  record OutboxOutcome(List<TaskState.DueVerdict> delivered, boolean evidence, String failure)
      implements Command {}

  /** Time to look again at a verified task's replicas (a node may have appeared). */
  record Reconcile() implements Command {}

  /** Time to (re)try dispatching {@code attempt}. */
  record DispatchDue(int attempt) implements Command {}

  record CheckLiveness() implements Command {}

  /** The running attempt's result deadline passed. */
  record ResultOverdue(int attempt) implements Command {}

  /**
   * @param alive null when the membership check itself failed
   */
  record LivenessAnswer(int attempt, String nodeId, Boolean alive) implements Command {}

  // ---------------------------------------------------------------- events

  public sealed interface Event extends CborSerializable {
    /** When it happened, epoch ms. */
    long at();
  }

  public record Submitted(TaskSpec spec, long at) implements Event {}

  /**
   * Journaled by earlier versions only: a dispatch is now kept in memory and recorded with the
   * attempt's outcome ({@link Completed#dispatchedAt()}), which saves a journal write per task.
   * Still applied when replayed.
   */
  public record Dispatched(int attempt, String nodeId, long at) implements Event {}

  /**
   * Journaled by earlier versions only, like {@link Dispatched}; now {@link Completed#startedAt()}.
   */
  public record AttemptStarted(int attempt, String nodeId, long at) implements Event {}

  /**
   * @param dispatchedAt when the attempt was put on its node's queue, null if not known (see {@link
   *     Dispatched})
   * @param startedAt when the worker reported it started, null if not known
   */
  public record Completed(
      int attempt,
      String nodeId,
      String resultJson,
      String logs,
      long durationMs,
      long at,
      Long dispatchedAt,
      Long startedAt)
      implements Event {
    public Completed(
        int attempt, String nodeId, String resultJson, String logs, long durationMs, long at) {
      this(attempt, nodeId, resultJson, logs, durationMs, at, null, null);
    }
  }

  /** An attempt failed and another one follows ({@link RetryScheduled} is journaled with it). */
  public record AttemptFailed(
      int attempt,
      String nodeId,
      String error,
      String errorKind,
      String logs,
      Long durationMs,
      long at,
      Long dispatchedAt,
      Long startedAt)
      implements Event {
    public AttemptFailed(
        int attempt,
        String nodeId,
        String error,
        String errorKind,
        String logs,
        Long durationMs,
        long at) {
      this(attempt, nodeId, error, errorKind, logs, durationMs, at, null, null);
    }
  }

  public record RetryScheduled(int nextAttempt, long dueAtEpochMs, long at) implements Event {}

  /** The task failed for good with the error of its last attempt. */
  public record Failed(
      int attempt,
      String nodeId,
      String error,
      String errorKind,
      String logs,
      Long durationMs,
      long at,
      Long dispatchedAt,
      Long startedAt)
      implements Event {
    public Failed(
        int attempt,
        String nodeId,
        String error,
        String errorKind,
        String logs,
        Long durationMs,
        long at) {
      this(attempt, nodeId, error, errorKind, logs, durationMs, at, null, null);
    }
  }

  /**
   * @param nodeId the node the cancelled attempt was on, or null if it was not on one
   */
  public record Cancelled(int attempt, String nodeId, long at) implements Event {}

  /** No node could take the task, for this reason; dispatch is retried on a timer. */
  public record Waiting(String reason, long at) implements Event {}

  /**
   * The dispatched job of {@code attempt} was withdrawn from a node that stopped taking work; it is
   * placed again.
   */
  public record Requeued(int attempt, String nodeId, long at) implements Event {}

  /**
   * A task without (fixed) verification turned into a verified one: adaptive policy or a
   * spot-check.
   */
  public record VerificationStarted(TaskSpec.Verification verification, String reason, long at)
      implements Event {}

  public record ReplicaOnNode(int job, String nodeId) implements CborSerializable {}

  public record ReplicasDispatched(List<ReplicaOnNode> replicas, long at) implements Event {}

  public record ReplicaStarted(int job, String nodeId, long at) implements Event {}

  /**
   * @param outcomeKey the replica's vote, null when it ended without one (node lost, overdue,
   *     crashed runtime)
   */
  public record ReplicaReported(
      int job,
      String nodeId,
      boolean success,
      String resultJson,
      String outcomeKey,
      String error,
      String errorKind,
      String logs,
      Long durationMs,
      long at)
      implements Event {}

  public record ReplicaWithdrawn(int job, String nodeId, long at) implements Event {}

  /**
   * A quorum of replicas agreed on {@code outcomeKey}; the task ends with the result (or
   * deterministic error) of replica {@code resultJob}.
   */
  public record Verified(
      String outcomeKey, List<String> agreeing, List<String> disagreeing, int resultJob, long at)
      implements Event {}

  /**
   * The outbox of a verified task: verdicts on nodes and fraud evidence it decided, journaled in
   * the same write as the event that decided them, so no crash between the decision and the
   * delivery loses them. Tagged open: the task stays among the journal's open entities, and is
   * woken after a crash, until {@link EffectsDelivered} empties it.
   *
   * @param evidenceAt when the disagreement was decided (the evidence record's creation time), null
   *     if none is due
   */
  public record EffectsDue(List<TaskState.DueVerdict> verdicts, Long evidenceAt, long at)
      implements Event {}

  /**
   * The node entities confirmed these verdicts (they count a task's verdict once) and, if {@code
   * evidence}, the fraud store holds the evidence (an upsert by task id).
   *
   * @param last the outbox is empty afterwards: closes the task in the journal's open entities
   */
  public record EffectsDelivered(
      List<TaskState.DueVerdict> verdicts, boolean evidence, boolean last, long at)
      implements Event {}

  // ---------------------------------------------------------------- construction

  /**
   * @param shard the entity's shard (from {@code EntityContext.getShard()}), asked to passivate the
   *     entity once the task ended; null outside sharding (tests)
   */
  public static Behavior<Command> create(
      String taskId,
      TaskEffects effects,
      TaskSettings settings,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.setup(
        context -> {
          // named here, Pekko finds an actor's logger class by walking the stack at its start:
          // about 1% of the node's CPU when a short-lived entity starts per task
          context.setLoggerName(TaskEntity.class);
          return Behaviors.withTimers(
              timers -> new TaskEntity(taskId, effects, settings, clock, shard, context, timers));
        });
  }

  public static Behavior<Command> create(String taskId, TaskEffects effects) {
    return create(taskId, effects, TaskSettings.defaults(), Clock.systemUTC(), null);
  }

  /**
   * The sharded entity definition; the caller adds settings (e.g. remember-entities) before {@code
   * init}.
   */
  public static Entity<Command, ShardingEnvelope<Command>> entity(
      TaskEffects effects, TaskSettings settings) {
    return Entity.of(
            TYPE_KEY,
            ctx -> create(ctx.getEntityId(), effects, settings, Clock.systemUTC(), ctx.getShard()))
        .withStopMessage(new Stop());
  }

  final String taskId;
  final TaskEffects effects;
  final TaskSettings settings;
  private final Clock clock;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  final ActorContext<Command> context;
  final TimerScheduler<Command> timers;

  /**
   * The attempt whose dispatch call is in flight, 0 if none. Per attempt, because an answer for an
   * attempt that already failed must not hold back dispatching the next one. Not journaled: after a
   * restart nothing is in flight.
   */
  private int dispatchingAttempt;

  /**
   * Where the current attempt of a single-run task is: its node and when it was dispatched and
   * started. Kept in memory, not journaled (two journal writes fewer per task); recorded with the
   * attempt's outcome. After a restart the job queue tells where the attempt was put ({@link
   * TaskEffects#placedOn}).
   */
  private Progress progress;

  /** The handlers of a verified task. */
  private final ReplicatedRun replicas;

  /**
   * The state as journaled, as of the command being handled (the handlers see it with the progress
   * laid over).
   */
  private TaskState journaled = TaskState.EMPTY;

  /**
   * The attempt whose due retry was announced ({@link TaskChange#RETRY_DUE} is sent once per
   * retry).
   */
  private int retryDueAnnounced;

  private record Progress(int attempt, String nodeId, Long dispatchedAt, Long startedAt) {}

  /**
   * The attempt withdrawn from a node while its own dispatch answer was still in flight (see
   * onWithdrawn).
   */
  private int withdrawnAttempt;

  private String withdrawnFrom;

  /**
   * The attempt relocated from a node to a pool while its own dispatch answer (naming that node)
   * was still in flight (see onRelocated).
   */
  private Relocated relocatedEarly;

  private TaskEntity(
      String taskId,
      TaskEffects effects,
      TaskSettings settings,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard,
      ActorContext<Command> context,
      TimerScheduler<Command> timers) {
    // a failing journal restarts the entity (and so re-runs recovery) instead of losing it
    super(
        PersistenceId.of(TYPE_KEY.name(), taskId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.taskId = taskId;
    this.effects = Objects.requireNonNull(effects, "effects");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.shard = shard;
    this.context = context;
    this.timers = timers;
    this.replicas = new ReplicatedRun(this);
  }

  @Override
  public TaskState emptyState() {
    return TaskState.EMPTY;
  }

  /**
   * Task journals are short and never snapshotted: recovery skips the snapshot store's round trip.
   */
  @Override
  public org.apache.pekko.persistence.typed.javadsl.Recovery recovery() {
    return org.apache.pekko.persistence.typed.javadsl.Recovery.withSnapshotSelectionCriteria(
        org.apache.pekko.persistence.typed.SnapshotSelectionCriteria.none());
  }

  @Override
  public EventHandler<TaskState, Event> eventHandler() {
    return TaskState::apply;
  }

  /**
   * Submitted opens the task in the journal's open-entities markers, its last event closes it (see
   * {@link Wake}).
   */
  @Override
  public java.util.Set<String> tagsFor(Event event) {
    return switch (event) {
      case Submitted e -> LifecycleTags.OPEN;
      case Completed e -> LifecycleTags.CLOSE;
      case Failed e -> LifecycleTags.CLOSE;
      case Cancelled e -> LifecycleTags.CLOSE;
      case Verified e -> LifecycleTags.CLOSE;
      // written after the deciding event in the same atomic write: the last lifecycle tag of a
      // write wins
      case EffectsDue e -> LifecycleTags.OPEN;
      case EffectsDelivered e -> e.last() ? LifecycleTags.CLOSE : java.util.Set.of();
      default -> java.util.Set.of();
    };
  }

  @Override
  public SignalHandler<TaskState> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.class, this::onRecovered).build();
  }

  @Override
  public CommandHandler<Command, Event, TaskState> commandHandler() {
    return this::handle;
  }

  /**
   * The journaled state with the current attempt's in-memory progress laid over it: what commands
   * decide on and what the view shows. The progress is dropped as soon as the journaled attempt
   * moves past it.
   */
  /** Package access for {@link ReplicatedRun}, which is not a subclass. */
  org.apache.pekko.persistence.typed.javadsl.EffectFactories<Event, TaskState> effect() {
    return Effect();
  }

  private TaskState live(TaskState s) {
    Progress p = progress;
    if (p == null || s.replicated() || s.status() != Status.QUEUED || s.attempt() != p.attempt())
      return s;
    TaskState ns = s;
    if (p.dispatchedAt() != null)
      ns = ns.apply(new Dispatched(p.attempt(), p.nodeId(), p.dispatchedAt()));
    if (p.startedAt() != null)
      ns = ns.apply(new AttemptStarted(p.attempt(), p.nodeId(), p.startedAt()));
    if (p.dispatchedAt() == null && p.startedAt() == null) {
      ns =
          ns.placedOn(
              p.attempt(), p.nodeId()); // placed before a restart: on its node, times unknown
    }
    return ns;
  }

  private Long dispatchedAt(int attempt) {
    Progress p = progress;
    return p != null && p.attempt() == attempt ? p.dispatchedAt() : null;
  }

  private Long startedAt(int attempt) {
    Progress p = progress;
    return p != null && p.attempt() == attempt ? p.startedAt() : null;
  }

  private Effect<Event, TaskState> handle(TaskState journaled, Command command) {
    this.journaled = journaled;
    Progress p = progress;
    if (p != null
        && (journaled.replicated()
            || journaled.status() != Status.QUEUED
            || journaled.attempt() != p.attempt())) {
      progress = null; // the journal moved past that attempt
    }
    TaskState s = live(journaled);
    boolean idle = (s.status().terminal() && !s.effectsDue()) || s.status() == Status.NEW;
    if (idle && !(command instanceof IdleEnded)) {
      timers.startSingleTimer(IDLE_TIMER, new IdleEnded(), ENDED_IDLE);
    }
    return switch (command) {
      case Submit c -> onSubmit(s, c);
      case Get c -> {
        TaskView v = view(s);
        // a lookup of an id nobody submitted must not leave a remembered entity behind; messages
        // that arrive while
        // it passivates are buffered by the shard and start a fresh incarnation, so a racing Submit
        // is not lost
        if (TaskView.UNKNOWN.equals(v.status())) passivate();
        yield Effect().reply(c.replyTo(), v);
      }
      case Inspect c -> Effect().reply(c.replyTo(), s);
      case IdleEnded c -> {
        if (idle) passivate(); // not a task submitted since the timer was set
        yield Effect().none();
      }
      case Wake c -> {
        boolean open = s.status() != Status.NEW && (!s.status().terminal() || s.effectsDue());
        if (!open) passivate();
        else if (s.effectsDue()) deliverOutbox(s);
        yield Effect().reply(c.replyTo(), open);
      }
      case CheckJob c -> {
        boolean open = s.status() != Status.NEW && !s.status().terminal();
        if (!open) passivate();
        else checkJob(s);
        yield Effect().reply(c.replyTo(), open);
      }
      case JobChecked c -> onJobChecked(s, c);
      case Started c -> onStarted(s, c);
      case ReportResult c -> onResult(s, c);
      case NodeLost c -> onNodeLost(s, c);
      case Cancel c -> onCancel(s, c);
      case Stop c -> Effect().stop();
      case DispatchOutcome c -> onDispatchOutcome(s, c);
      case DispatchDue c -> onDispatchDue(s, c);
      case CheckLiveness c -> onCheckLiveness(s);
      case LivenessAnswer c -> onLivenessAnswer(s, c);
      case ResultOverdue c -> onResultOverdue(s, c);
      case Withdrawn c -> onWithdrawn(s, c);
      case Relocated c -> onRelocated(s, c);
      case ReplicaDispatchOutcome c -> replicas.onReplicaDispatchOutcome(s, c);
      case Located c -> onLocated(s, c);
      case DeliverOutbox c -> {
        deliverOutbox(s);
        yield Effect().none();
      }
      case OutboxOutcome c -> onOutboxOutcome(s, c);
      case Reconcile c -> {
        if (s.replicated() && !s.status().terminal()) replicas.dispatchMissingReplicas(s);
        yield Effect().none();
      }
    };
  }

  // ---------------------------------------------------------------- command handlers

  private Effect<Event, TaskState> onSubmit(TaskState s, Submit c) {
    if (s.status() != Status.NEW) return Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    if (c.spec() == null)
      return Effect().reply(c.replyTo(), StatusReply.error("a task needs a spec"));
    return Effect()
        .persist(new Submitted(c.spec(), now()))
        .thenRun(
            (TaskState ns) -> {
              announce(ns, TaskChange.SUBMITTED);
              if (ns.replicated()) replicas.dispatchMissingReplicas(ns);
              else startDispatch(ns);
            })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, TaskState> onStarted(TaskState s, Started c) {
    if (s.replicated()) return replicas.onReplicaStarted(s, c);
    TaskSpec.Verification asked = s.spec().verification();
    if (asked != null && asked.adaptive() && s.status() == Status.QUEUED) {
      // the dispatch answer decides whether this run needs a second replica; starting it here would
      // skip that
      return Effect().none();
    }
    // QUEUED is accepted too: a fast worker's Started can overtake our own dispatch outcome
    boolean current =
        (s.status() == Status.QUEUED || s.status() == Status.DISPATCHED)
            && c.attempt() == s.attempt();
    if (!current) return Effect().none();
    progress = new Progress(c.attempt(), c.nodeId(), dispatchedAt(c.attempt()), now());
    TaskState ns = live(journaled);
    startLivenessChecks();
    armResultDeadline(ns);
    announce(ns, TaskChange.STARTED);
    return Effect().none();
  }

  private Effect<Event, TaskState> onResult(TaskState s, ReportResult r) {
    boolean current =
        !s.status().terminal() && s.status() != Status.NEW && r.attempt() == s.attempt();
    if (s.replicated() && s.status() != Status.NEW) return replicas.onReplicaResult(s, r);
    if (!current) {
      context
          .getLog()
          .debug(
              "Task {}: ignoring result of attempt {} from {} in {} (attempt {})",
              taskId,
              r.attempt(),
              r.nodeId(),
              s.status(),
              s.attempt());
      return Effect().reply(r.replyTo(), StatusReply.ack());
    }
    TaskSpec.Verification asked = s.spec().verification();
    if (asked != null && asked.adaptive() && s.status() == Status.QUEUED) {
      // whether this node may be trusted alone is decided with the dispatch answer: until then the
      // worker retries
      return Effect()
          .reply(
              r.replyTo(), StatusReply.error("task " + taskId + " is not ready for results yet"));
    }
    if (r.success()) {
      return Effect()
          .persist(
              new Completed(
                  r.attempt(),
                  r.nodeId(),
                  r.resultJson(),
                  r.logs(),
                  r.durationMs(),
                  now(),
                  dispatchedAt(r.attempt()),
                  startedAt(r.attempt())))
          .thenRun((TaskState ns) -> ended(ns, TaskChange.COMPLETED))
          .thenReply(r.replyTo(), ns -> StatusReply.ack());
    }
    boolean retryAllowed = r.retryable() || s.spec().retries().retryUserErrors();
    return failAttempt(
            s,
            r.attempt(),
            r.nodeId(),
            r.error(),
            r.errorKind(),
            r.logs(),
            r.durationMs(),
            retryAllowed)
        .thenReply(r.replyTo(), ns -> StatusReply.ack());
  }

  private Effect<Event, TaskState> onNodeLost(TaskState s, NodeLost c) {
    if (s.replicated()) {
      // a task holds at most one replica per node; a word about another job on it is stale
      boolean current =
          c.attempt() <= 0
              || s.replicas().stream()
                  .anyMatch(
                      r ->
                          r.job() == c.attempt()
                              && r.phase().active()
                              && r.nodeId().equals(c.nodeId()));
      if (!current) return Effect().none();
      return replicas.replicasLost(s, c.nodeId(), "node " + c.nodeId() + " was lost", NODE_LOST);
    }
    if (!s.status().onNode() || !Objects.equals(s.nodeId(), c.nodeId())) return Effect().none();
    // the retry may sit on the same node (it came back) or in the same pool as the lost attempt
    if (c.attempt() > 0 && c.attempt() != s.attempt()) return Effect().none();
    return nodeLost(s);
  }

  private Effect<Event, TaskState> onCancel(TaskState s, Cancel c) {
    return switch (s.status()) {
      case NEW -> Effect().reply(c.replyTo(), StatusReply.error("unknown task " + taskId));
      case CANCELLED -> Effect().reply(c.replyTo(), StatusReply.success(view(s)));
      case COMPLETED, FAILED ->
          Effect()
              .reply(
                  c.replyTo(),
                  StatusReply.error("task " + taskId + " is already " + statusName(s.status())));
      case QUEUED, DISPATCHED, RUNNING -> {
        if (s.replicated()) {
          yield Effect()
              .persist(new Cancelled(s.attempt(), null, now()))
              .thenRun(
                  (TaskState ns) -> {
                    effects.dropQueuedJobs(taskId);
                    replicas.cancelActiveReplicas(ns);
                    ended(ns, TaskChange.CANCELLED);
                  })
              .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
        }
        String onNode = s.status().onNode() ? s.nodeId() : null;
        yield Effect()
            .persist(new Cancelled(s.attempt(), onNode, now()))
            .thenRun(
                (TaskState ns) -> {
                  effects.dropQueuedJobs(taskId);
                  if (onNode != null) effects.cancelRunning(taskId, s.attempt(), onNode);
                  ended(ns, TaskChange.CANCELLED);
                })
            .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
      }
    };
  }

  private Effect<Event, TaskState> onDispatchOutcome(TaskState s, DispatchOutcome given) {
    DispatchOutcome o = followRelocation(given);
    if (dispatchingAttempt == o.attempt()) dispatchingAttempt = 0;
    if (s.status() != Status.QUEUED || s.attempt() != o.attempt()) {
      // The task moved on while the job was being enqueued (a fast worker already reported, or it
      // was cancelled).
      // Unless this very job is the one the task follows, no one will accept its result, so stop
      // it.
      // A job parked in a pool is the one the task follows too: the worker that pulled it is the
      // node whose Started overtook this answer. Cancelling it as "not followed" stopped every
      // fast job that was pulled from a pool before its dispatch answer came back.
      boolean followedJob =
          o.attempt() == s.attempt()
              && (Objects.equals(o.enqueuedOn(), s.nodeId()) || effects.isPool(o.enqueuedOn()));
      if (o.enqueuedOn() != null && (s.status() == Status.CANCELLED || !followedJob)) {
        effects.cancelRunning(taskId, o.attempt(), o.enqueuedOn());
      }
      return Effect().none();
    }
    if (o.enqueuedOn() != null
        && o.attempt() == withdrawnAttempt
        && o.enqueuedOn().equals(withdrawnFrom)) {
      withdrawnFrom =
          null; // the job was taken back off that node before we heard where it went: place it
      // again
      context.getSelf().tell(new DispatchDue(o.attempt()));
      return Effect().none();
    }
    if (o.enqueuedOn() != null && o.verifyReason() != null) {
      TaskSpec.Verification asked = s.spec().verification();
      TaskSpec.Verification v =
          asked != null ? asked : TaskSpec.Verification.of(2, 2, 4, TaskSpec.Verification.FIXED);
      long now = now();
      return Effect()
          .persist(
              List.<Event>of(
                  new VerificationStarted(v, o.verifyReason(), now),
                  new ReplicasDispatched(
                      List.of(new ReplicaOnNode(o.attempt(), o.enqueuedOn())), now)))
          .thenRun(
              (TaskState ns) -> {
                startLivenessChecks();
                announce(ns, TaskChange.DISPATCHED);
                replicas.dispatchMissingReplicas(ns);
              });
    }
    if (o.enqueuedOn() != null) {
      progress = new Progress(o.attempt(), o.enqueuedOn(), now(), null);
      startLivenessChecks();
      announce(live(journaled), TaskChange.DISPATCHED);
      return Effect().none();
    }
    if (o.noNodeReason() != null) {
      if (o.noNodeReason().equals(s.waitingReason())) {
        retryDispatchLater(o.attempt());
        return Effect().none();
      }
      return Effect()
          .persist(new Waiting(o.noNodeReason(), now()))
          .thenRun(
              (TaskState ns) -> {
                retryDispatchLater(o.attempt());
                announce(ns, TaskChange.WAITING);
              });
    }
    context
        .getLog()
        .warn(
            "Task {}: dispatching attempt {} failed, trying again in {}: {}",
            taskId,
            o.attempt(),
            settings.dispatchRetryInterval(),
            o.failure());
    retryDispatchLater(o.attempt());
    return Effect().none();
  }

  private Effect<Event, TaskState> onDispatchDue(TaskState s, DispatchDue d) {
    if (s.status() == Status.QUEUED && s.attempt() == d.attempt()) {
      if (s.retryDueAt() != null && s.retryDueAt() > now()) {
        armRetry(
            s); // timer fired before the journaled due time (clock skew after a move); wait the
        // rest
      } else {
        announceRetryDue(s);
        startDispatch(s);
      }
    }
    return Effect().none();
  }

  private Effect<Event, TaskState> onCheckLiveness(TaskState s) {
    if (s.replicated()) return replicas.checkReplicas(s);
    if (!s.status().onNode()) return Effect().none();
    int attempt = s.attempt();
    String nodeId = s.nodeId();
    CompletionStage<Boolean> alive = call(() -> effects.isNodeAlive(nodeId));
    context.pipeToSelf(
        alive, (ok, failure) -> new LivenessAnswer(attempt, nodeId, failure == null ? ok : null));
    return Effect().none();
  }

  private Effect<Event, TaskState> onLivenessAnswer(TaskState s, LivenessAnswer a) {
    if (a.alive() == null) {
      context
          .getLog()
          .warn(
              "Task {}: could not check whether node {} is alive; checking again later",
              taskId,
              a.nodeId());
      return Effect().none();
    }
    if (s.replicated()) {
      return a.alive()
          ? Effect().none()
          : replicas.replicasLost(s, a.nodeId(), "node " + a.nodeId() + " was lost", NODE_LOST);
    }
    boolean sameAttempt =
        s.status().onNode() && s.attempt() == a.attempt() && Objects.equals(s.nodeId(), a.nodeId());
    if (a.alive() || !sameAttempt) return Effect().none();
    return nodeLost(s);
  }

  private Effect<Event, TaskState> onResultOverdue(TaskState s, ResultOverdue o) {
    if (s.replicated() || !s.status().onNode() || s.attempt() != o.attempt())
      return Effect().none();
    String error =
        "no result "
            + s.spec().timeoutMs()
            + " ms + "
            + settings.resultGrace().toMillis()
            + " ms grace after the attempt started on "
            + s.nodeId();
    if (s.nodeId() != null) effects.cancelRunning(taskId, s.attempt(), s.nodeId());
    return failAttempt(s, s.attempt(), s.nodeId(), error, RESULT_OVERDUE, null, null, true);
  }

  private void onRecovered(TaskState s, RecoveryCompleted signal) {
    // the mark may not have been written before a crash (or Redis was away at the cancel)
    if (s.status() == Status.CANCELLED) effects.dropQueuedJobs(taskId);
    if (s.replicated()) {
      replicas.onReplicatedRecovered(s);
      return;
    }
    switch (s.status()) {
      case NEW -> {}
      case QUEUED -> {
        if (s.retryDueAt() != null && s.retryDueAt() > now()) armRetry(s);
        else locate(s);
      }
      case DISPATCHED, RUNNING -> {
        startLivenessChecks();
        if (s.status() == Status.RUNNING) armResultDeadline(s);
        context.getSelf().tell(new CheckLiveness());
      }
      case COMPLETED, FAILED, CANCELLED -> {
        if (s.effectsDue()) deliverOutbox(s); // decided before a crash, not yet delivered
        else passivate();
      }
    }
  }

  /**
   * Dispatches are not journaled: before dispatching the recovered attempt again, ask the queue
   * whether its job is already on a node, so a restart does not run it twice.
   */
  private void locate(TaskState s) {
    int attempt = s.attempt();
    dispatchingAttempt = attempt;
    CompletionStage<java.util.Optional<String>> placed =
        call(() -> effects.placedOn(taskId, attempt));
    context.pipeToSelf(
        placed,
        (node, failure) -> new Located(attempt, failure == null ? node.orElse(null) : null));
  }

  private Effect<Event, TaskState> onLocated(TaskState s, Located c) {
    if (dispatchingAttempt == c.attempt()) dispatchingAttempt = 0;
    if (s.status() != Status.QUEUED || s.attempt() != c.attempt()) return Effect().none();
    boolean withdrawn =
        c.attempt() == withdrawnAttempt && Objects.equals(c.nodeId(), withdrawnFrom);
    if (c.nodeId() == null || withdrawn) {
      withdrawnFrom = null;
      announceRetryDue(s);
      startDispatch(s);
      return Effect().none();
    }
    progress = new Progress(c.attempt(), c.nodeId(), null, null);
    startLivenessChecks();
    context.getSelf().tell(new CheckLiveness());
    // when it started is not known after a restart: the backstop for a silent worker counts from
    // now
    armResultDeadline(s, now());
    return Effect().none();
  }

  /**
   * Asks the queue whether the job of a dispatched, not yet started attempt is still there (see
   * {@link CheckJob}).
   */
  private void checkJob(TaskState s) {
    // verified tasks keep one placement per task in the queue, not one per replica: their replicas
    // are left to the
    // liveness checks (not covered by this check)
    if (s.replicated() || s.status() != Status.DISPATCHED || s.nodeId() == null) return;
    int attempt = s.attempt();
    String nodeId = s.nodeId();
    CompletionStage<java.util.Optional<String>> placed =
        call(() -> effects.placedOn(taskId, attempt));
    context.pipeToSelf(
        placed,
        (node, failure) ->
            new JobChecked(
                attempt, nodeId, failure != null ? null : node.map(nodeId::equals).orElse(false)));
  }

  private Effect<Event, TaskState> onJobChecked(TaskState s, JobChecked c) {
    // the dispatch lives in memory over a journaled Queued (a Dispatched journaled by an earlier
    // version is left alone)
    boolean same =
        journaled.status() == Status.QUEUED
            && s.status() == Status.DISPATCHED
            && s.attempt() == c.attempt()
            && Objects.equals(s.nodeId(), c.nodeId());
    if (!same || Boolean.TRUE.equals(c.placed())) return Effect().none();
    if (c.placed() == null) {
      // Redis is away again: look once more later
      timers.startSingleTimer(
          JOB_CHECK_TIMER,
          new CheckJob(context.getSystem().ignoreRef()),
          settings.dispatchRetryInterval());
      return Effect().none();
    }
    context
        .getLog()
        .warn(
            "Task {}: the job of attempt {} is no longer on node {}'s queue (lost by Redis); queueing it again",
            taskId,
            c.attempt(),
            c.nodeId());
    progress = null;
    timers.cancel(LIVENESS_TIMER);
    timers.cancel(DEADLINE_TIMER);
    announce(journaled, TaskChange.REQUEUED);
    startDispatch(journaled);
    return Effect().none();
  }

  /**
   * A scheduled retry became due: told once per retry, so the queue's delayed count comes down
   * once.
   */
  private void announceRetryDue(TaskState s) {
    if (s.retryDueAt() != null && retryDueAnnounced != s.attempt()) {
      retryDueAnnounced = s.attempt();
      announce(s, TaskChange.RETRY_DUE);
    }
  }

  private Effect<Event, TaskState> onWithdrawn(TaskState s, Withdrawn c) {
    if (s.replicated()) return replicas.onReplicaWithdrawn(s, c.attempt(), c.nodeId());
    if (c.attempt() != s.attempt()) return Effect().none();
    if (s.status() == Status.QUEUED && dispatchingAttempt == c.attempt()) {
      withdrawnAttempt = c.attempt();
      withdrawnFrom = c.nodeId();
      return Effect().none();
    }
    if (s.status() != Status.DISPATCHED || !Objects.equals(s.nodeId(), c.nodeId()))
      return Effect().none();
    return Effect()
        .persist(new Requeued(c.attempt(), c.nodeId(), now()))
        .thenRun(
            (TaskState ns) -> {
              timers.cancel(LIVENESS_TIMER);
              announce(ns, TaskChange.REQUEUED);
              startDispatch(ns);
            });
  }

  /**
   * The outcome as it stands now: a job moved off its node before this answer (naming that node)
   * arrived waits in the pool it was moved to.
   */
  private DispatchOutcome followRelocation(DispatchOutcome o) {
    Relocated early = relocatedEarly;
    if (early == null
        || o.attempt() != early.attempt()
        || !Objects.equals(o.enqueuedOn(), early.nodeId())) return o;
    relocatedEarly = null;
    return new DispatchOutcome(o.attempt(), early.poolId(), null, null, null);
  }

  private Effect<Event, TaskState> onRelocated(TaskState s, Relocated c) {
    if (s.replicated() || c.attempt() != s.attempt()) return Effect().none();
    if (s.status() == Status.QUEUED && dispatchingAttempt == c.attempt()) {
      relocatedEarly = c;
      return Effect().none();
    }
    // a worker that pulled it from the pool may have said it started already: then it runs there
    if (s.status() != Status.DISPATCHED || !Objects.equals(s.nodeId(), c.nodeId()))
      return Effect().none();
    progress = new Progress(c.attempt(), c.poolId(), dispatchedAt(c.attempt()), null);
    announce(live(journaled), TaskChange.DISPATCHED);
    return Effect().none();
  }

  // ---------------------------------------------------------------- transitions shared by several
  // commands

  private EffectBuilder<Event, TaskState> nodeLost(TaskState s) {
    return failAttempt(
        s,
        s.attempt(),
        s.nodeId(),
        "node " + s.nodeId() + " was lost",
        NODE_LOST,
        null,
        null,
        true);
  }

  private EffectBuilder<Event, TaskState> failAttempt(
      TaskState s,
      int attempt,
      String nodeId,
      String error,
      String errorKind,
      String logs,
      Long durationMs,
      boolean retryAllowed) {
    long now = now();
    TaskSpec.RetryPolicy policy = s.spec().retries();
    if (retryAllowed && attempt < policy.attempts()) {
      // a lost node is not the task's fault and says nothing about a next try: no backoff
      long dueAt = now + (NODE_LOST.equals(errorKind) ? 0 : policy.delayAfterAttempt(attempt));
      return Effect()
          .persist(
              List.<Event>of(
                  new AttemptFailed(
                      attempt,
                      nodeId,
                      error,
                      errorKind,
                      logs,
                      durationMs,
                      now,
                      dispatchedAt(attempt),
                      startedAt(attempt)),
                  new RetryScheduled(attempt + 1, dueAt, now)))
          .thenRun(
              (TaskState ns) -> {
                timers.cancel(LIVENESS_TIMER);
                timers.cancel(DEADLINE_TIMER);
                armRetry(ns);
                announce(ns, TaskChange.RETRY_SCHEDULED);
              });
    }
    return Effect()
        .persist(
            new Failed(
                attempt,
                nodeId,
                error,
                errorKind,
                logs,
                durationMs,
                now,
                dispatchedAt(attempt),
                startedAt(attempt)))
        .thenRun(
            (TaskState ns) -> {
              effects.deadLetter(taskId, ns.spec(), error);
              ended(ns, TaskChange.FAILED);
            });
  }

  // ---------------------------------------------------------------- side effects

  private void startDispatch(TaskState s) {
    int attempt = s.attempt();
    if (dispatchingAttempt == attempt) return;
    dispatchingAttempt = attempt;
    timers.cancel(DISPATCH_TIMER);
    TaskSpec spec = s.spec();
    CompletionStage<Placement> placed = call(() -> effects.dispatch(taskId, attempt, spec));
    context.pipeToSelf(
        placed,
        (placement, failure) -> {
          if (failure != null)
            return new DispatchOutcome(attempt, null, null, String.valueOf(failure));
          return switch (placement) {
            case Placement.Enqueued e ->
                new DispatchOutcome(attempt, e.nodeId(), null, null, verifyReason(spec, e));
            case Placement.NoEligibleNode n -> new DispatchOutcome(attempt, null, n.reason(), null);
            case null -> new DispatchOutcome(attempt, null, null, "dispatch answered nothing");
          };
        });
  }

  /** Why a job placed on a single node must be verified on another, or null when it need not. */
  private static String verifyReason(TaskSpec spec, Placement.Enqueued e) {
    TaskSpec.Verification asked = spec.verification();
    if (asked != null && asked.adaptive() && !e.proven()) {
      return "adaptive: node " + e.nodeId() + " is not proven yet";
    }
    if (asked == null && e.spotCheck()) return "spot-check of unproven node " + e.nodeId();
    return null;
  }

  private void retryDispatchLater(int attempt) {
    timers.startSingleTimer(
        DISPATCH_TIMER, new DispatchDue(attempt), settings.dispatchRetryInterval());
  }

  private void armRetry(TaskState s) {
    long delay = s.retryDueAt() - now();
    if (delay <= 0) {
      context.getSelf().tell(new DispatchDue(s.attempt()));
    } else {
      timers.startSingleTimer(
          DISPATCH_TIMER, new DispatchDue(s.attempt()), Duration.ofMillis(delay));
    }
  }

  /**
   * A backstop for a worker that took a job and went silent while its node stays in the cluster:
   * the worker enforces the task's timeout itself, so no result well after it means the attempt is
   * lost. Only for tasks with a timeout.
   */
  private void armResultDeadline(TaskState s) {
    if (s.startedAt() != null) armResultDeadline(s, s.startedAt());
  }

  /** The deadline of the current attempt, counted from {@code startedAt}. */
  private void armResultDeadline(TaskState s, long startedAt) {
    Long timeoutMs = s.spec().timeoutMs();
    if (timeoutMs == null || timeoutMs <= 0) return;
    long delay = startedAt + timeoutMs + settings.resultGrace().toMillis() - now();
    ResultOverdue overdue = new ResultOverdue(s.attempt());
    if (delay <= 0) context.getSelf().tell(overdue);
    else timers.startSingleTimer(DEADLINE_TIMER, overdue, Duration.ofMillis(delay));
  }

  void startLivenessChecks() {
    timers.cancel(DISPATCH_TIMER);
    timers.startTimerWithFixedDelay(
        LIVENESS_TIMER, new CheckLiveness(), settings.livenessCheckInterval());
  }

  /**
   * The change a journaled event makes visible (for replica changes, whose last event names what
   * happened).
   */
  static TaskChange changeOf(Event e) {
    return switch (e) {
      case Submitted x -> TaskChange.SUBMITTED;
      case Dispatched x -> TaskChange.DISPATCHED;
      case AttemptStarted x -> TaskChange.STARTED;
      case Completed x -> TaskChange.COMPLETED;
      case AttemptFailed x -> TaskChange.RETRY_SCHEDULED;
      case RetryScheduled x -> TaskChange.RETRY_SCHEDULED;
      case Failed x -> TaskChange.FAILED;
      case Cancelled x -> TaskChange.CANCELLED;
      case Waiting x -> TaskChange.WAITING;
      case Requeued x -> TaskChange.REQUEUED;
      case VerificationStarted x -> TaskChange.VERIFICATION_STARTED;
      case ReplicasDispatched x -> TaskChange.REPLICA_DISPATCHED;
      case ReplicaStarted x -> TaskChange.REPLICA_STARTED;
      case ReplicaReported x -> TaskChange.REPLICA_REPORTED;
      case ReplicaWithdrawn x -> TaskChange.REPLICA_WITHDRAWN;
      case Verified x ->
          TaskChange.COMPLETED; // a Verified ends the task: ended() announces the real outcome
      case EffectsDue x -> null; // not a change users see
      case EffectsDelivered x -> null;
    };
  }

  void ended(TaskState s, TaskChange change) {
    timers.cancel(DISPATCH_TIMER);
    timers.cancel(LIVENESS_TIMER);
    timers.cancel(DEADLINE_TIMER);
    announce(s, change);
    if (s.effectsDue()) deliverOutbox(s); // passivates once they are delivered
    else passivate();
  }

  // ---------------------------------------------------------------- outbox

  /**
   * An outbox delivery is in flight (in memory: after a crash nothing is, and the journaled outbox
   * is sent again).
   */
  private boolean outboxInFlight;

  /**
   * Evidence was added to the outbox while a delivery was in flight: what that delivery stored is
   * already stale.
   */
  private boolean evidenceChangedInFlight;

  private Duration outboxBackoff = OUTBOX_FIRST_BACKOFF;

  /**
   * Sends every verdict and the evidence still due. Both receivers are idempotent (a node entity
   * counts a task's verdict once, the evidence is an upsert keyed by task id), so a delivery
   * repeated after a crash changes nothing.
   */
  void deliverOutbox(TaskState s) {
    if (!s.effectsDue()) return;
    if (outboxInFlight) return;
    outboxInFlight = true;
    evidenceChangedInFlight = false;
    timers.cancel(OUTBOX_TIMER);
    List<TaskState.DueVerdict> verdicts = s.dueVerdicts();
    List<CompletableFuture<TaskState.DueVerdict>> sent = new java.util.ArrayList<>();
    for (TaskState.DueVerdict v : verdicts) {
      sent.add(
          call(() -> effects.verdict(v.nodeId(), taskId, v.agreed()))
              .toCompletableFuture()
              .handle((done, failure) -> failure == null ? v : null));
    }
    CompletableFuture<Boolean> evidence;
    if (s.dueEvidenceAt() != null) {
      java.util.List<String> faulty = ReplicatedRun.faultyNodes(s);
      evidence =
          call(() ->
                  effects.mismatch(
                      taskId, s.spec(), s.agreedKey(), s.replicas(), faulty, s.dueEvidenceAt()))
              .toCompletableFuture()
              .handle((done, failure) -> failure == null);
    } else {
      evidence = CompletableFuture.completedFuture(false);
    }
    CompletableFuture<Void> all =
        CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new))
            .thenCombine(evidence, (a, b) -> null);
    context.pipeToSelf(
        all,
        (ignored, failure) -> {
          List<TaskState.DueVerdict> ok =
              sent.stream().map(f -> f.getNow(null)).filter(Objects::nonNull).toList();
          boolean evidenceOk = evidence.getNow(false);
          boolean complete =
              ok.size() == verdicts.size() && (s.dueEvidenceAt() == null || evidenceOk);
          return new OutboxOutcome(
              ok, evidenceOk, complete ? null : "not every receiver confirmed");
        });
  }

  private Effect<Event, TaskState> onOutboxOutcome(TaskState s, OutboxOutcome o) {
    outboxInFlight = false;
    boolean evidence = o.evidence() && !evidenceChangedInFlight && s.dueEvidenceAt() != null;
    List<TaskState.DueVerdict> delivered =
        o.delivered().stream().filter(s.dueVerdicts()::contains).toList();
    TaskState after = s.apply(new EffectsDelivered(delivered, evidence, false, now()));
    if (!after.effectsDue()) outboxBackoff = OUTBOX_FIRST_BACKOFF;
    if (after.effectsDue()) {
      context
          .getLog()
          .warn(
              "Task {}: {} verdict(s){} not delivered yet, trying again in {}",
              taskId,
              after.dueVerdicts().size(),
              after.dueEvidenceAt() != null ? " and fraud evidence" : "",
              outboxBackoff);
      timers.startSingleTimer(OUTBOX_TIMER, new DeliverOutbox(), outboxBackoff);
      outboxBackoff =
          outboxBackoff.multipliedBy(2).compareTo(OUTBOX_MAX_BACKOFF) > 0
              ? OUTBOX_MAX_BACKOFF
              : outboxBackoff.multipliedBy(2);
    }
    if (delivered.isEmpty() && !evidence) return Effect().none();
    return Effect()
        .persist(new EffectsDelivered(delivered, evidence, !after.effectsDue(), now()))
        .thenRun(
            (TaskState ns) -> {
              if (!ns.effectsDue() && ns.status().terminal()) passivate();
            });
  }

  /** Evidence was added to the outbox: a delivery in flight stores an older version of it. */
  void evidenceQueued() {
    if (outboxInFlight) evidenceChangedInFlight = true;
  }

  void passivate() {
    if (shard != null) shard.tell(new ClusterSharding.Passivate<>(context.getSelf()));
  }

  void announce(TaskState s, TaskChange change) {
    try {
      effects.changed(view(s), change);
    } catch (RuntimeException e) {
      context.getLog().warn("Task {}: change listener failed on {}", taskId, change, e);
    }
  }

  /**
   * Runs an effects call so that a thrown exception or a stage that never completes both end up as
   * a failure.
   */
  <T> CompletionStage<T> call(Supplier<CompletionStage<T>> effect) {
    try {
      CompletionStage<T> stage = effect.get();
      if (stage == null)
        return CompletableFuture.failedFuture(new IllegalStateException("no answer"));
      return stage
          .toCompletableFuture()
          .copy()
          .orTimeout(settings.effectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  long now() {
    return clock.millis();
  }

  // ---------------------------------------------------------------- view

  private TaskView view(TaskState s) {
    return TaskViews.view(taskId, s);
  }

  public static TaskView view(String taskId, TaskState s) {
    return TaskViews.view(taskId, s);
  }

  static String statusName(Status status) {
    return TaskViews.statusName(status);
  }
}
