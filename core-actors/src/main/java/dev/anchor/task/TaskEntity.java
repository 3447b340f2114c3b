package dev.anchor.task;

import dev.anchor.CborSerializable;
import dev.anchor.task.TaskEffects.Placement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
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
 * One task's life, event-sourced: Queued → (Dispatched) → Running → Completed | Failed | Cancelled, with retries.
 *
 * <p>A normal run journals four events: {@link Submitted}, {@link Dispatched}, {@link AttemptStarted},
 * {@link Completed}. A retried failure adds {@link AttemptFailed} + {@link RetryScheduled} (one atomic write); the
 * final failure is a single {@link Failed}. {@link Waiting} is written only when the reason no node can take the task
 * changes, so a task waiting for hours does not grow its journal.
 *
 * <p>Rules a caller relies on:
 * <ul>
 *   <li>Submit is idempotent: a second Submit answers with the current view and journals nothing.
 *   <li>A result is recorded once: a result for another attempt than the current one, a second result for the same
 *       attempt, or any result after the task ended is acknowledged with success and changes nothing, so the worker
 *       acks its stream entry and moves on.
 *   <li>Cancel of a Cancelled task answers the unchanged view; Cancel of a Completed or Failed task answers an error
 *       ("already Completed"), so HTTP can answer 409; Cancel of an unknown task answers an error.
 *   <li>Errors from the user's code (the worker reports them with {@code retryable=false}) fail the task at once
 *       unless its {@link TaskSpec.RetryPolicy#retryUserErrors()} is set. A lost node is always retried; it counts
 *       as an attempt.
 *   <li>Nothing is stranded by a crash: on recovery a task that was journaled but never dispatched is dispatched,
 *       a scheduled retry is re-armed for its remaining delay, and a dispatched/running attempt has its node checked.
 *   <li>A running attempt of a task with a {@code timeoutMs} that reports nothing for {@code timeoutMs} plus
 *       {@link TaskSettings#resultGrace()} is stopped and failed as {@link #RESULT_OVERDUE} (retryable).
 *   <li>A task that ended asks its shard to passivate it (remember-entities would otherwise keep it alive).
 * </ul>
 */
public final class TaskEntity extends EventSourcedBehavior<TaskEntity.Command, TaskEntity.Event, TaskEntity.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Task");

  /** {@code errorKind} of an attempt that ended because its node left the cluster. */
  public static final String NODE_LOST = "NodeLost";

  private static final String DISPATCH_TIMER = "dispatch";
  private static final String LIVENESS_TIMER = "liveness";
  private static final String DEADLINE_TIMER = "deadline";

  /** {@code errorKind} of an attempt that reported no result within its timeout plus the grace period. */
  public static final String RESULT_OVERDUE = "ResultOverdue";

  // ---------------------------------------------------------------- commands

  public sealed interface Command extends CborSerializable {}

  /** Create the task. Answers the view once {@link Submitted} is journaled (or at once if it already exists). */
  public record Submit(TaskSpec spec, ActorRef<StatusReply<TaskView>> replyTo) implements Command {}

  /** Answers the view; a task never submitted answers status {@link TaskView#UNKNOWN}. */
  public record Get(ActorRef<TaskView> replyTo) implements Command {}

  /** The worker on {@code nodeId} picked up {@code attempt}. */
  public record Started(int attempt, String nodeId) implements Command {}

  /**
   * The worker's outcome of {@code attempt}. The reply is a success once the outcome is journaled (or known to be
   * a duplicate); only then may the worker acknowledge its stream entry.
   *
   * @param errorKind e.g. "UserError", "Timeout", "Runtime"; free text kept for the view
   * @param retryable false for errors another try cannot fix, such as an exception thrown by the user's code
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

  /** {@code nodeId} left the cluster; an attempt running there fails and is retried. */
  public record NodeLost(String nodeId) implements Command {}

  /** Cancel a queued or running task; see the class comment for already-ended tasks. */
  public record Cancel(ActorRef<StatusReply<TaskView>> replyTo) implements Command {}

  /** The sharding stop message: stop now (sent by the shard after this entity asked to passivate). */
  public record Stop() implements Command {}

  /** How a {@link TaskEffects#dispatch} call ended; exactly one of the three outcome fields is set. */
  record DispatchOutcome(int attempt, String enqueuedOn, String noNodeReason, String failure) implements Command {}

  /** Time to (re)try dispatching {@code attempt}. */
  record DispatchDue(int attempt) implements Command {}

  record CheckLiveness() implements Command {}

  /** The running attempt's result deadline passed. */
  record ResultOverdue(int attempt) implements Command {}

  /** @param alive null when the membership check itself failed */
  record LivenessAnswer(int attempt, String nodeId, Boolean alive) implements Command {}

  // ---------------------------------------------------------------- events

  public sealed interface Event extends CborSerializable {
    /** When it happened, epoch ms. */
    long at();
  }

  public record Submitted(TaskSpec spec, long at) implements Event {}

  public record Dispatched(int attempt, String nodeId, long at) implements Event {}

  public record AttemptStarted(int attempt, String nodeId, long at) implements Event {}

  public record Completed(int attempt, String nodeId, String resultJson, String logs, long durationMs, long at)
      implements Event {}

  /** An attempt failed and another one follows ({@link RetryScheduled} is journaled with it). */
  public record AttemptFailed(
      int attempt, String nodeId, String error, String errorKind, String logs, Long durationMs, long at)
      implements Event {}

  public record RetryScheduled(int nextAttempt, long dueAtEpochMs, long at) implements Event {}

  /** The task failed for good with the error of its last attempt. */
  public record Failed(int attempt, String nodeId, String error, String errorKind, String logs, Long durationMs, long at)
      implements Event {}

  /** @param nodeId the node the cancelled attempt was on, or null if it was not on one */
  public record Cancelled(int attempt, String nodeId, long at) implements Event {}

  /** No node could take the task, for this reason; dispatch is retried on a timer. */
  public record Waiting(String reason, long at) implements Event {}

  // ---------------------------------------------------------------- state

  public enum Status {
    NEW, QUEUED, DISPATCHED, RUNNING, COMPLETED, FAILED, CANCELLED;

    public boolean terminal() {
      return this == COMPLETED || this == FAILED || this == CANCELLED;
    }

    /** An attempt has been handed to a node and has not ended. */
    public boolean onNode() {
      return this == DISPATCHED || this == RUNNING;
    }
  }

  /**
   * @param attempt            the current attempt (1-based): the one queued, dispatched or running, or the last one
   * @param attemptsDispatched how many attempts reached a node
   * @param startedAt          when the last attempt was reported started
   * @param retryDueAt         when a scheduled retry is due, else null
   */
  public record State(
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
      List<TaskView.HistoryEntry> history)
      implements CborSerializable {

    public static final State EMPTY =
        new State(Status.NEW, null, 0, 0, null, null, null, null, null, null, null, null, null, null, null, List.of());

    public State {
      history = history == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(history));
    }

    State apply(Event event) {
      Builder b = new Builder(this);
      switch (event) {
        case Submitted e -> {
          b.status = Status.QUEUED;
          b.spec = e.spec();
          b.attempt = 1;
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
          b.log("RetryScheduled", e.at(), e.nextAttempt(), null, "due " + java.time.Instant.ofEpochMilli(e.dueAtEpochMs()));
        }
        case Failed e -> {
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

      Builder(State s) {
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
      }

      void onNode(Status newStatus, int onAttempt, String node) {
        status = newStatus;
        attempt = onAttempt;
        attemptsDispatched = Math.max(attemptsDispatched, onAttempt);
        nodeId = node;
        retryDueAt = null;
        waitingReason = null;
      }

      void log(String event, long at, int onAttempt, String node, String detail) {
        history.add(new TaskView.HistoryEntry(event, at, onAttempt, node, detail));
      }

      State build() {
        return new State(status, spec, attempt, attemptsDispatched, nodeId, result, error, errorKind, logs,
            durationMs, submittedAt, startedAt, completedAt, retryDueAt, waitingReason, history);
      }
    }
  }

  // ---------------------------------------------------------------- construction

  /**
   * @param shard the entity's shard (from {@code EntityContext.getShard()}), asked to passivate the entity once the
   *              task ended; null outside sharding (tests)
   */
  public static Behavior<Command> create(
      String taskId,
      TaskEffects effects,
      TaskSettings settings,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.setup(context -> Behaviors.withTimers(
        timers -> new TaskEntity(taskId, effects, settings, clock, shard, context, timers)));
  }

  public static Behavior<Command> create(String taskId, TaskEffects effects) {
    return create(taskId, effects, TaskSettings.defaults(), Clock.systemUTC(), null);
  }

  /** The sharded entity definition; the caller adds settings (e.g. remember-entities) before {@code init}. */
  public static Entity<Command, ShardingEnvelope<Command>> entity(TaskEffects effects, TaskSettings settings) {
    return Entity.of(TYPE_KEY,
            ctx -> create(ctx.getEntityId(), effects, settings, Clock.systemUTC(), ctx.getShard()))
        .withStopMessage(new Stop());
  }

  private final String taskId;
  private final TaskEffects effects;
  private final TaskSettings settings;
  private final Clock clock;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  /**
   * The attempt whose dispatch call is in flight, 0 if none. Per attempt, because an answer for an attempt that
   * already failed must not hold back dispatching the next one. Not journaled: after a restart nothing is in flight.
   */
  private int dispatchingAttempt;

  private TaskEntity(
      String taskId,
      TaskEffects effects,
      TaskSettings settings,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard,
      ActorContext<Command> context,
      TimerScheduler<Command> timers) {
    // a failing journal restarts the entity (and so re-runs recovery) instead of losing it
    super(PersistenceId.of(TYPE_KEY.name(), taskId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.taskId = taskId;
    this.effects = Objects.requireNonNull(effects, "effects");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.shard = shard;
    this.context = context;
    this.timers = timers;
  }

  @Override
  public State emptyState() {
    return State.EMPTY;
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return State::apply;
  }

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.class, this::onRecovered).build();
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return this::handle;
  }

  private Effect<Event, State> handle(State s, Command command) {
    return switch (command) {
      case Submit c -> onSubmit(s, c);
      case Get c -> {
        TaskView v = view(s);
        // a lookup of an id nobody submitted must not leave a remembered entity behind; messages that arrive while
        // it passivates are buffered by the shard and start a fresh incarnation, so a racing Submit is not lost
        if (TaskView.UNKNOWN.equals(v.status())) passivate();
        yield Effect().reply(c.replyTo(), v);
      }
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
    };
  }

  // ---------------------------------------------------------------- command handlers

  private Effect<Event, State> onSubmit(State s, Submit c) {
    if (s.status() != Status.NEW) return Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    if (c.spec() == null) return Effect().reply(c.replyTo(), StatusReply.error("a task needs a spec"));
    return Effect().persist(new Submitted(c.spec(), now()))
        .thenRun((State ns) -> {
          announce(ns, "Submitted");
          startDispatch(ns);
        })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onStarted(State s, Started c) {
    // QUEUED is accepted too: a fast worker's Started can overtake our own dispatch outcome
    boolean current = (s.status() == Status.QUEUED || s.status() == Status.DISPATCHED) && c.attempt() == s.attempt();
    if (!current) return Effect().none();
    return Effect().persist(new AttemptStarted(c.attempt(), c.nodeId(), now()))
        .thenRun((State ns) -> {
          startLivenessChecks();
          armResultDeadline(ns);
          announce(ns, "Started");
        });
  }

  private Effect<Event, State> onResult(State s, ReportResult r) {
    boolean current = !s.status().terminal() && s.status() != Status.NEW && r.attempt() == s.attempt();
    if (!current) {
      context.getLog().debug("Task {}: ignoring result of attempt {} from {} in {} (attempt {})",
          taskId, r.attempt(), r.nodeId(), s.status(), s.attempt());
      return Effect().reply(r.replyTo(), StatusReply.ack());
    }
    if (r.success()) {
      return Effect().persist(new Completed(r.attempt(), r.nodeId(), r.resultJson(), r.logs(), r.durationMs(), now()))
          .thenRun((State ns) -> ended(ns, "Completed"))
          .thenReply(r.replyTo(), ns -> StatusReply.ack());
    }
    boolean retryAllowed = r.retryable() || s.spec().retries().retryUserErrors();
    return failAttempt(s, r.attempt(), r.nodeId(), r.error(), r.errorKind(), r.logs(), r.durationMs(), retryAllowed)
        .thenReply(r.replyTo(), ns -> StatusReply.ack());
  }

  private Effect<Event, State> onNodeLost(State s, NodeLost c) {
    if (!s.status().onNode() || !Objects.equals(s.nodeId(), c.nodeId())) return Effect().none();
    return nodeLost(s);
  }

  private Effect<Event, State> onCancel(State s, Cancel c) {
    return switch (s.status()) {
      case NEW -> Effect().reply(c.replyTo(), StatusReply.error("unknown task " + taskId));
      case CANCELLED -> Effect().reply(c.replyTo(), StatusReply.success(view(s)));
      case COMPLETED, FAILED ->
          Effect().reply(c.replyTo(), StatusReply.error("task " + taskId + " is already " + statusName(s.status())));
      case QUEUED, DISPATCHED, RUNNING -> {
        String onNode = s.status().onNode() ? s.nodeId() : null;
        yield Effect().persist(new Cancelled(s.attempt(), onNode, now()))
            .thenRun((State ns) -> {
              if (onNode != null) effects.cancelRunning(taskId, s.attempt(), onNode);
              ended(ns, "Cancelled");
            })
            .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
      }
    };
  }

  private Effect<Event, State> onDispatchOutcome(State s, DispatchOutcome o) {
    if (dispatchingAttempt == o.attempt()) dispatchingAttempt = 0;
    if (s.status() != Status.QUEUED || s.attempt() != o.attempt()) {
      // The task moved on while the job was being enqueued (a fast worker already reported, or it was cancelled).
      // Unless this very job is the one the task follows, no one will accept its result, so stop it.
      boolean followedJob = o.attempt() == s.attempt() && Objects.equals(o.enqueuedOn(), s.nodeId());
      if (o.enqueuedOn() != null && (s.status() == Status.CANCELLED || !followedJob)) {
        effects.cancelRunning(taskId, o.attempt(), o.enqueuedOn());
      }
      return Effect().none();
    }
    if (o.enqueuedOn() != null) {
      return Effect().persist(new Dispatched(o.attempt(), o.enqueuedOn(), now()))
          .thenRun((State ns) -> {
            startLivenessChecks();
            announce(ns, "Dispatched");
          });
    }
    if (o.noNodeReason() != null) {
      if (o.noNodeReason().equals(s.waitingReason())) {
        retryDispatchLater(o.attempt());
        return Effect().none();
      }
      return Effect().persist(new Waiting(o.noNodeReason(), now()))
          .thenRun((State ns) -> {
            retryDispatchLater(o.attempt());
            announce(ns, "Waiting");
          });
    }
    context.getLog().warn("Task {}: dispatching attempt {} failed, trying again in {}: {}",
        taskId, o.attempt(), settings.dispatchRetryInterval(), o.failure());
    retryDispatchLater(o.attempt());
    return Effect().none();
  }

  private Effect<Event, State> onDispatchDue(State s, DispatchDue d) {
    if (s.status() == Status.QUEUED && s.attempt() == d.attempt()) {
      if (s.retryDueAt() != null && s.retryDueAt() > now()) {
        armRetry(s); // timer fired before the journaled due time (clock skew after a move); wait the rest
      } else {
        startDispatch(s);
      }
    }
    return Effect().none();
  }

  private Effect<Event, State> onCheckLiveness(State s) {
    if (!s.status().onNode()) return Effect().none();
    int attempt = s.attempt();
    String nodeId = s.nodeId();
    CompletionStage<Boolean> alive = call(() -> effects.isNodeAlive(nodeId));
    context.pipeToSelf(alive, (ok, failure) -> new LivenessAnswer(attempt, nodeId, failure == null ? ok : null));
    return Effect().none();
  }

  private Effect<Event, State> onLivenessAnswer(State s, LivenessAnswer a) {
    if (a.alive() == null) {
      context.getLog().warn("Task {}: could not check whether node {} is alive; checking again later",
          taskId, a.nodeId());
      return Effect().none();
    }
    boolean sameAttempt = s.status().onNode() && s.attempt() == a.attempt() && Objects.equals(s.nodeId(), a.nodeId());
    if (a.alive() || !sameAttempt) return Effect().none();
    return nodeLost(s);
  }

  private Effect<Event, State> onResultOverdue(State s, ResultOverdue o) {
    if (s.status() != Status.RUNNING || s.attempt() != o.attempt()) return Effect().none();
    String error = "no result " + s.spec().timeoutMs() + " ms + " + settings.resultGrace().toMillis()
        + " ms grace after the attempt started on " + s.nodeId();
    if (s.nodeId() != null) effects.cancelRunning(taskId, s.attempt(), s.nodeId());
    return failAttempt(s, s.attempt(), s.nodeId(), error, RESULT_OVERDUE, null, null, true);
  }

  private void onRecovered(State s, RecoveryCompleted signal) {
    switch (s.status()) {
      case NEW -> {}
      case QUEUED -> {
        if (s.retryDueAt() != null) armRetry(s);
        else startDispatch(s);
      }
      case DISPATCHED, RUNNING -> {
        startLivenessChecks();
        if (s.status() == Status.RUNNING) armResultDeadline(s);
        context.getSelf().tell(new CheckLiveness());
      }
      case COMPLETED, FAILED, CANCELLED -> passivate();
    }
  }

  // ---------------------------------------------------------------- transitions shared by several commands

  private EffectBuilder<Event, State> nodeLost(State s) {
    return failAttempt(s, s.attempt(), s.nodeId(), "node " + s.nodeId() + " was lost", NODE_LOST, null, null, true);
  }

  private EffectBuilder<Event, State> failAttempt(
      State s, int attempt, String nodeId, String error, String errorKind, String logs, Long durationMs,
      boolean retryAllowed) {
    long now = now();
    TaskSpec.RetryPolicy policy = s.spec().retries();
    if (retryAllowed && attempt < policy.attempts()) {
      long dueAt = now + policy.delayAfterAttempt(attempt);
      return Effect().persist(List.<Event>of(
              new AttemptFailed(attempt, nodeId, error, errorKind, logs, durationMs, now),
              new RetryScheduled(attempt + 1, dueAt, now)))
          .thenRun((State ns) -> {
            timers.cancel(LIVENESS_TIMER);
            timers.cancel(DEADLINE_TIMER);
            armRetry(ns);
            announce(ns, "RetryScheduled");
          });
    }
    return Effect().persist(new Failed(attempt, nodeId, error, errorKind, logs, durationMs, now))
        .thenRun((State ns) -> {
          effects.deadLetter(taskId, ns.spec(), error);
          ended(ns, "Failed");
        });
  }

  // ---------------------------------------------------------------- side effects

  private void startDispatch(State s) {
    int attempt = s.attempt();
    if (dispatchingAttempt == attempt) return;
    dispatchingAttempt = attempt;
    timers.cancel(DISPATCH_TIMER);
    TaskSpec spec = s.spec();
    CompletionStage<Placement> placed = call(() -> effects.dispatch(taskId, attempt, spec));
    context.pipeToSelf(placed, (placement, failure) -> {
      if (failure != null) return new DispatchOutcome(attempt, null, null, String.valueOf(failure));
      return switch (placement) {
        case Placement.Enqueued e -> new DispatchOutcome(attempt, e.nodeId(), null, null);
        case Placement.NoEligibleNode n -> new DispatchOutcome(attempt, null, n.reason(), null);
        case null -> new DispatchOutcome(attempt, null, null, "dispatch answered nothing");
      };
    });
  }

  private void retryDispatchLater(int attempt) {
    timers.startSingleTimer(DISPATCH_TIMER, new DispatchDue(attempt), settings.dispatchRetryInterval());
  }

  private void armRetry(State s) {
    long delay = s.retryDueAt() - now();
    if (delay <= 0) {
      context.getSelf().tell(new DispatchDue(s.attempt()));
    } else {
      timers.startSingleTimer(DISPATCH_TIMER, new DispatchDue(s.attempt()), Duration.ofMillis(delay));
    }
  }

  /**
   * A backstop for a worker that took a job and went silent while its node stays in the cluster: the worker enforces
   * the task's timeout itself, so no result well after it means the attempt is lost. Only for tasks with a timeout.
   */
  private void armResultDeadline(State s) {
    Long timeoutMs = s.spec().timeoutMs();
    if (timeoutMs == null || timeoutMs <= 0 || s.startedAt() == null) return;
    long delay = s.startedAt() + timeoutMs + settings.resultGrace().toMillis() - now();
    ResultOverdue overdue = new ResultOverdue(s.attempt());
    if (delay <= 0) context.getSelf().tell(overdue);
    else timers.startSingleTimer(DEADLINE_TIMER, overdue, Duration.ofMillis(delay));
  }

  private void startLivenessChecks() {
    timers.cancel(DISPATCH_TIMER);
    timers.startTimerWithFixedDelay(LIVENESS_TIMER, new CheckLiveness(), settings.livenessCheckInterval());
  }

  private void ended(State s, String eventName) {
    timers.cancel(DISPATCH_TIMER);
    timers.cancel(LIVENESS_TIMER);
    timers.cancel(DEADLINE_TIMER);
    announce(s, eventName);
    passivate();
  }

  private void passivate() {
    if (shard != null) shard.tell(new ClusterSharding.Passivate<>(context.getSelf()));
  }

  private void announce(State s, String eventName) {
    try {
      effects.changed(view(s), eventName);
    } catch (RuntimeException e) {
      context.getLog().warn("Task {}: change listener failed on {}", taskId, eventName, e);
    }
  }

  /** Runs an effects call so that a thrown exception or a stage that never completes both end up as a failure. */
  private <T> CompletionStage<T> call(Supplier<CompletionStage<T>> effect) {
    try {
      CompletionStage<T> stage = effect.get();
      if (stage == null) return CompletableFuture.failedFuture(new IllegalStateException("no answer"));
      return stage.toCompletableFuture().copy()
          .orTimeout(settings.effectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private long now() {
    return clock.millis();
  }

  // ---------------------------------------------------------------- view

  private TaskView view(State s) {
    return view(taskId, s);
  }

  public static TaskView view(String taskId, State s) {
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
        s.history());
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
