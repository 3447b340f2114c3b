package dev.anchor.dag;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.anchor.CborSerializable;
import dev.anchor.dag.DagEffects.DagChange;
import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * One DAG's run, event-sourced: its steps run as ordinary tasks (sharded {@code TaskEntity}) with
 * deterministic ids {@code dag-<dagId>.<stepId>}, so submitting a step again after a crash never
 * runs it twice.
 *
 * <p>Rules a caller relies on:
 *
 * <ul>
 *   <li>A step is journaled as started ({@link NodeStarted}) before its task is submitted; a
 *       started step whose task is unknown after a crash is submitted again, an already existing
 *       task is only looked at.
 *   <li>A step's task reports its end through {@link StepEnded} (forwarded by the task effects); in
 *       case such a forward is lost, every running step's task is asked for its state after
 *       recovery and every {@link DagSettings#pollInterval()} while the DAG runs ({@link
 *       #POLL_BATCH} steps per tick, going round). The first end seen counts; later ones change
 *       nothing.
 *   <li>A step starts once all its dependencies completed, and at most {@link
 *       DagSpec#maxParallel()} run at once.
 *   <li>Failure policy: {@code FAIL_FAST} skips every step that has not started once one failed
 *       (running ones finish); {@code CONTINUE} skips only the steps that depend, directly or not,
 *       on a failed one.
 *   <li>Schedule is idempotent; Get of an unknown DAG and a DAG that ended ask the shard to
 *       passivate.
 * </ul>
 */
public final class DagEntity
    extends EventSourcedBehavior<DagEntity.Command, DagEntity.Event, DagEntity.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Dag");

  /** Task ids of DAG steps start with this. */
  public static final String TASK_PREFIX = "dag-";

  private static final String POLL_TIMER = "poll";

  /** At most this many task lookups per poll tick. */
  static final int POLL_BATCH = 100;

  /** At most this many task submits in flight: a wide fan-out must not time out its own submits. */
  static final int SUBMITS_IN_FLIGHT = 128;

  private static final ObjectMapper JSON = new ObjectMapper();

  // ---------------------------------------------------------------- commands

  public sealed interface Command extends CborSerializable {}

  /**
   * Start the DAG (the spec must have passed {@link DagValidator}). Answers the view once
   * journaled.
   */
  public record Schedule(DagSpec spec, ActorRef<StatusReply<DagView>> replyTo) implements Command {}

  /** Answers the view; a DAG never scheduled answers status {@link DagView#UNKNOWN}. */
  public record Get(ActorRef<DagView> replyTo) implements Command {}

  /** Cancel pending and running steps; a DAG that already ended answers an error. */
  public record Cancel(ActorRef<StatusReply<DagView>> replyTo) implements Command {}

  /**
   * The task of {@code stepId} ended (Completed, Failed or Cancelled); {@code task} is its final
   * view.
   */
  public record StepEnded(String stepId, TaskView task) implements Command {}

  /** The sharding stop message. */
  public record Stop() implements Command {}

  record Poll() implements Command {}

  /** Journal the step ends gathered since the last flush, in one write. */
  record Flush() implements Command {}

  /** A submit or get of a step's task answered {@code task}, or failed with {@code failure}. */
  record TaskAnswer(String stepId, TaskView task, String failure, boolean fromSubmit)
      implements Command {}

  // ---------------------------------------------------------------- events

  // Journaled: their class names are the serializer's manifests and their fields its property
  // names, so the step events keep the names from when a step was called a node (NodeStarted,
  // nodeId, ...); renaming them would make old journals unreadable. They are also the names of
  // the DAG's server-sent events.
  public sealed interface Event extends CborSerializable {
    long at();
  }

  /**
   * @param spec the steps in dependency order
   */
  public record Scheduled(DagSpec spec, long at) implements Event {}

  public record NodeStarted(String nodeId, long at) implements Event {}

  public record NodeCompleted(String nodeId, String resultJson, Long durationMs, long at)
      implements Event {}

  public record NodeFailed(String nodeId, String error, long at) implements Event {}

  public record NodeSkipped(String nodeId, String reason, long at) implements Event {}

  public record NodeCancelled(String nodeId, long at) implements Event {}

  public record Ended(DagStatus status, String error, long at) implements Event {}

  // ---------------------------------------------------------------- state

  public enum DagStatus {
    NEW,
    RUNNING,
    COMPLETED,
    FAILED,
    CANCELLED;

    public boolean ended() {
      return this == COMPLETED || this == FAILED || this == CANCELLED;
    }

    String display() {
      return this == NEW ? DagView.UNKNOWN : name().charAt(0) + name().substring(1).toLowerCase();
    }
  }

  public enum StepStatus {
    PENDING,
    RUNNING,
    COMPLETED,
    FAILED,
    SKIPPED,
    CANCELLED;

    /** Ended without a result: dependents cannot run. */
    boolean unsuccessful() {
      return this == FAILED || this == SKIPPED || this == CANCELLED;
    }

    String display() {
      return name().charAt(0) + name().substring(1).toLowerCase();
    }
  }

  /**
   * @param startedAt when the step's task was submitted; {@code durationMs} is the task's own run
   *     time
   */
  public record StepState(
      StepStatus status,
      String result,
      String error,
      Long startedAt,
      Long completedAt,
      Long durationMs)
      implements CborSerializable {
    static final StepState PENDING =
        new StepState(StepStatus.PENDING, null, null, null, null, null);
  }

  public record State(
      DagStatus status,
      DagSpec spec,
      Map<String, StepState> steps,
      Long submittedAt,
      Long completedAt,
      String error)
      implements CborSerializable {
    public static final State EMPTY = new State(DagStatus.NEW, null, Map.of(), null, null, null);

    public State {
      steps = StepStates.copyOf(steps == null ? Map.of() : steps);
    }

    public StepStatus step(String id) {
      StepState n = steps.get(id);
      return n == null ? null : n.status();
    }

    public int count(StepStatus status) {
      return ((StepStates) steps).count(status);
    }

    State apply(Event event) {
      return switch (event) {
        case Scheduled e -> {
          Map<String, StepState> ns = new LinkedHashMap<>();
          for (DagStep n : e.spec().steps()) ns.put(n.id(), StepState.PENDING);
          yield new State(DagStatus.RUNNING, e.spec(), ns, e.at(), null, null);
        }
        case NodeStarted e ->
            withStep(e.nodeId(), new StepState(StepStatus.RUNNING, null, null, e.at(), null, null));
        case NodeCompleted e ->
            withStep(
                e.nodeId(),
                new StepState(
                    StepStatus.COMPLETED,
                    e.resultJson(),
                    null,
                    steps.get(e.nodeId()).startedAt(),
                    e.at(),
                    e.durationMs()));
        case NodeFailed e ->
            withStep(
                e.nodeId(),
                new StepState(
                    StepStatus.FAILED,
                    null,
                    e.error(),
                    steps.get(e.nodeId()).startedAt(),
                    e.at(),
                    null));
        case NodeSkipped e ->
            withStep(
                e.nodeId(),
                new StepState(StepStatus.SKIPPED, null, e.reason(), null, e.at(), null));
        case NodeCancelled e ->
            withStep(
                e.nodeId(),
                new StepState(
                    StepStatus.CANCELLED,
                    null,
                    null,
                    steps.get(e.nodeId()).startedAt(),
                    e.at(),
                    null));
        case Ended e -> new State(e.status(), spec, steps, submittedAt, e.at(), e.error());
      };
    }

    private State withStep(String id, StepState n) {
      return new State(
          status, spec, ((StepStates) steps).with(id, n), submittedAt, completedAt, error);
    }
  }

  // ---------------------------------------------------------------- construction

  public static Behavior<Command> create(
      String dagId,
      DagEffects effects,
      DagSettings settings,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.setup(
        context ->
            Behaviors.withTimers(
                timers -> new DagEntity(dagId, effects, settings, clock, shard, context, timers)));
  }

  /**
   * The sharded entity definition; the caller adds settings (e.g. the role) before {@code init}.
   */
  public static Entity<Command, ShardingEnvelope<Command>> entity(
      DagEffects effects, DagSettings settings) {
    return Entity.of(
            TYPE_KEY,
            ctx -> create(ctx.getEntityId(), effects, settings, Clock.systemUTC(), ctx.getShard()))
        .withStopMessage(new Stop());
  }

  /** The id of the task that runs {@code stepId} of DAG {@code dagId} (dag ids hold no '.'). */
  public static String taskId(String dagId, String stepId) {
    return TASK_PREFIX + dagId + "." + stepId;
  }

  /** {dagId, stepId} of a DAG step's task id, or null for any other task. */
  public static String[] parseTaskId(String taskId) {
    if (taskId == null || !taskId.startsWith(TASK_PREFIX)) return null;
    int dot = taskId.indexOf('.', TASK_PREFIX.length());
    if (dot <= TASK_PREFIX.length() || dot == taskId.length() - 1) return null;
    return new String[] {taskId.substring(TASK_PREFIX.length(), dot), taskId.substring(dot + 1)};
  }

  /** Tells the DAG of an ended task that is one of its steps; other tasks are ignored. */
  public static void forwardEnded(ClusterSharding sharding, TaskView task) {
    String[] ids = parseTaskId(task.taskId());
    if (ids == null) return;
    sharding.entityRefFor(TYPE_KEY, ids[0]).tell(new StepEnded(ids[1], task));
  }

  private final String dagId;
  private final DagEffects effects;
  private final DagSettings settings;
  private final Clock clock;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;

  /**
   * Steps whose submit is in flight, so a poll does not submit them a second time meanwhile. Not
   * journaled.
   */
  private final Set<String> submitting = new HashSet<>();

  /**
   * Started steps whose submit waits for a free slot (at most {@link #SUBMITS_IN_FLIGHT} at once).
   * Not journaled.
   */
  private final java.util.LinkedHashSet<String> toSubmit = new java.util.LinkedHashSet<>();

  /**
   * Step ends seen but not yet journaled; a crash loses them, and the recovery poll finds them
   * again.
   */
  private final Map<String, TaskView> endsToJournal = new LinkedHashMap<>();

  private boolean flushQueued;

  /** Steps whose task lookup is in flight. Not journaled. */
  private final Set<String> lookingUp = new HashSet<>();

  /** Where the next poll batch starts. */
  private int pollCursor = -1;

  private DagEntity(
      String dagId,
      DagEffects effects,
      DagSettings settings,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard,
      ActorContext<Command> context,
      TimerScheduler<Command> timers) {
    super(
        PersistenceId.of(TYPE_KEY.name(), dagId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.dagId = dagId;
    this.effects = effects;
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
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.class, (s, signal) -> onRecovered(s))
        .build();
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return this::handle;
  }

  private Effect<Event, State> handle(State s, Command command) {
    return switch (command) {
      case Schedule c -> onSchedule(s, c);
      case Get c -> {
        // an id nobody scheduled must not leave a remembered entity behind
        if (s.status() == DagStatus.NEW) passivate();
        yield Effect().reply(c.replyTo(), view(dagId, s));
      }
      case Cancel c -> onCancel(s, c);
      case StepEnded c -> onTaskEnded(s, c.stepId(), c.task());
      case Stop c -> Effect().stop();
      case Poll c -> onPoll(s);
      case Flush c -> onFlush(s);
      case TaskAnswer c -> onTaskAnswer(s, c);
    };
  }

  // ---------------------------------------------------------------- command handlers

  private Effect<Event, State> onSchedule(State s, Schedule c) {
    if (s.status() != DagStatus.NEW)
      return Effect().reply(c.replyTo(), StatusReply.success(view(dagId, s)));
    if (c.spec() == null)
      return Effect().reply(c.replyTo(), StatusReply.error("a DAG needs a spec"));
    var problem = DagValidator.validate(c.spec(), settings.maxSteps());
    if (problem.isPresent())
      return Effect().reply(c.replyTo(), StatusReply.error(problem.get().error()));
    DagSpec ordered =
        new DagSpec(
            c.spec().name(),
            DagValidator.topologicalOrder(c.spec().steps()),
            c.spec().inputJson(),
            c.spec().failurePolicy(),
            c.spec().maxParallel());
    List<Event> events = new ArrayList<>();
    Scheduled scheduled = new Scheduled(ordered, now());
    events.add(scheduled);
    events.addAll(advance(s.apply(scheduled)));
    return persistAndFollow(events)
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(dagId, ns)));
  }

  private Effect<Event, State> onCancel(State s, Cancel c) {
    if (s.status() == DagStatus.NEW) {
      passivate();
      return Effect().reply(c.replyTo(), StatusReply.error("unknown DAG " + dagId));
    }
    if (s.status().ended()) {
      return Effect()
          .reply(
              c.replyTo(),
              StatusReply.error("DAG " + dagId + " is already " + s.status().display()));
    }
    long now = now();
    List<Event> events = new ArrayList<>();
    List<String> running = new ArrayList<>();
    for (DagStep n : s.spec().steps()) {
      StepStatus st = s.step(n.id());
      if (st == StepStatus.RUNNING) running.add(n.id());
      if (st == StepStatus.RUNNING || st == StepStatus.PENDING)
        events.add(new NodeCancelled(n.id(), now));
    }
    events.add(new Ended(DagStatus.CANCELLED, "cancelled", now));
    return persistAndFollow(events)
        .thenRun(
            (State ns) -> {
              for (String id : running) call(() -> effects.cancelTask(taskId(dagId, id)));
            })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(dagId, ns)));
  }

  /**
   * Gathers the end; the flush that journals it is a message to self, so it queues behind the ends
   * already waiting in the mailbox and a thousand parallel steps ending at once cost a few writes,
   * not a thousand.
   */
  private Effect<Event, State> onTaskEnded(State s, String stepId, TaskView task) {
    if (s.status() == DagStatus.NEW) {
      passivate();
      return Effect().none();
    }
    if (s.status() != DagStatus.RUNNING || s.step(stepId) != StepStatus.RUNNING || task == null)
      return Effect().none();
    if (!task.status().equals(TaskView.COMPLETED)
        && !task.status().equals(TaskView.FAILED)
        && !task.status().equals(TaskView.CANCELLED)) {
      return Effect().none();
    }
    endsToJournal.putIfAbsent(stepId, task);
    if (!flushQueued) {
      flushQueued = true;
      context.getSelf().tell(new Flush());
    }
    return Effect().none();
  }

  private Effect<Event, State> onFlush(State s) {
    flushQueued = false;
    if (endsToJournal.isEmpty()) return Effect().none();
    long now = now();
    List<Event> events = new ArrayList<>();
    State cur = s;
    for (var e : endsToJournal.entrySet()) {
      String stepId = e.getKey();
      TaskView task = e.getValue();
      if (cur.status() != DagStatus.RUNNING || cur.step(stepId) != StepStatus.RUNNING) continue;
      Event end =
          switch (task.status()) {
            case TaskView.COMPLETED ->
                new NodeCompleted(stepId, task.result(), task.durationMs(), now);
            case TaskView.FAILED ->
                new NodeFailed(stepId, task.error() == null ? "failed" : task.error(), now);
            default -> new NodeFailed(stepId, "its task " + task.taskId() + " was cancelled", now);
          };
      events.add(end);
      cur = cur.apply(end);
    }
    endsToJournal.clear();
    if (events.isEmpty()) return Effect().none();
    List<Event> next = advance(cur);
    events.addAll(next);
    // The next steps' tasks are submitted while the ends that started them are being journaled, so
    // a hop of a chain waits for one journal write fewer. Safe because a step's task id and input
    // follow from the journaled ends: if this write is lost, recovery finds the ends again through
    // the tasks and submits the same tasks, which a task entity answers with what it already has.
    State after = cur;
    for (Event e : next) after = after.apply(e);
    for (Event e : next) if (e instanceof NodeStarted started) submit(after, started.nodeId());
    return persistAndFollow(events);
  }

  private Effect<Event, State> onPoll(State s) {
    if (s.status() != DagStatus.RUNNING) return Effect().none();
    // a bounded batch per tick, going round the steps: a wide DAG must not flood its tasks (and
    // itself) with lookups
    List<DagStep> steps = s.spec().steps();
    int asked = 0;
    for (int i = 0; i < steps.size() && asked < POLL_BATCH; i++) {
      pollCursor = (pollCursor + 1) % steps.size();
      String id = steps.get(pollCursor).id();
      if (s.step(id) != StepStatus.RUNNING
          || submitting.contains(id)
          || toSubmit.contains(id)
          || !lookingUp.add(id)) {
        continue;
      }
      asked++;
      context.pipeToSelf(
          call(() -> effects.getTask(taskId(dagId, id))),
          (v, failure) ->
              new TaskAnswer(id, v, failure == null ? null : String.valueOf(failure), false));
    }
    return Effect().none();
  }

  private Effect<Event, State> onTaskAnswer(State s, TaskAnswer a) {
    if (a.fromSubmit()) {
      submitting.remove(a.stepId());
      submitWaiting(s);
      // the DAG was cancelled while this submit was on its way, so the cancel may have missed the
      // task: cancel it now
      boolean orphan =
          s.step(a.stepId()) == StepStatus.CANCELLED
              && a.task() != null
              && !List.of(TaskView.COMPLETED, TaskView.FAILED, TaskView.CANCELLED)
                  .contains(a.task().status());
      if (orphan) call(() -> effects.cancelTask(taskId(dagId, a.stepId())));
    } else {
      lookingUp.remove(a.stepId());
    }
    if (s.status() != DagStatus.RUNNING || s.step(a.stepId()) != StepStatus.RUNNING)
      return Effect().none();
    if (a.failure() != null || a.task() == null) {
      // the next poll asks again (and submits if the task does not exist)
      context
          .getLog()
          .warn(
              "DAG {}: {} of step {} failed: {}",
              dagId,
              a.fromSubmit() ? "submit" : "lookup",
              a.stepId(),
              a.failure());
      return Effect().none();
    }
    if (TaskView.UNKNOWN.equals(a.task().status())) {
      // journaled as started but the task never got created (a crash between the two): create it
      // now
      if (!a.fromSubmit()) submit(s, a.stepId());
      return Effect().none();
    }
    return onTaskEnded(s, a.stepId(), a.task());
  }

  private void onRecovered(State s) {
    switch (s.status()) {
      case NEW -> {}
      case RUNNING -> {
        startPolling();
        context.getSelf().tell(new Poll());
      }
      case COMPLETED, FAILED, CANCELLED -> passivate();
    }
  }

  // ---------------------------------------------------------------- transitions

  /**
   * The events that follow from {@code s}: steps to skip, steps now ready (up to the parallel cap),
   * and the DAG's end once nothing is pending or running.
   */
  List<Event> advance(State s) {
    List<Event> out = new ArrayList<>();
    if (s.status() != DagStatus.RUNNING) return out;
    long now = now();
    State cur = s;
    boolean failFast =
        s.spec().failurePolicy() == DagSpec.FailurePolicy.FAIL_FAST
            && s.count(StepStatus.FAILED) > 0;
    for (DagStep n :
        s.spec().steps()) { // dependency order: a skip reaches every dependent in one pass
      if (cur.step(n.id()) != StepStatus.PENDING) continue;
      String reason = null;
      if (failFast) {
        reason = "not started: another step failed and the DAG fails fast";
      } else {
        for (String d : n.dependencies()) {
          if (cur.step(d).unsuccessful()) {
            reason = "dependency " + d + " did not complete";
            break;
          }
        }
      }
      if (reason != null) {
        Event e = new NodeSkipped(n.id(), reason, now);
        out.add(e);
        cur = cur.apply(e);
      }
    }
    int cap = s.spec().maxParallel();
    int slots = cap == 0 ? Integer.MAX_VALUE : cap - cur.count(StepStatus.RUNNING);
    for (DagStep n : s.spec().steps()) {
      if (slots <= 0) break;
      if (cur.step(n.id()) != StepStatus.PENDING) continue;
      boolean ready = true;
      for (String d : n.dependencies()) {
        if (cur.step(d) != StepStatus.COMPLETED) {
          ready = false;
          break;
        }
      }
      if (ready) {
        Event e = new NodeStarted(n.id(), now);
        out.add(e);
        cur = cur.apply(e);
        slots--;
      }
    }
    if (cur.count(StepStatus.PENDING) == 0 && cur.count(StepStatus.RUNNING) == 0) {
      List<String> failed = new ArrayList<>();
      for (var e : cur.steps().entrySet())
        if (e.getValue().status() == StepStatus.FAILED) failed.add(e.getKey());
      out.add(
          failed.isEmpty()
              ? new Ended(DagStatus.COMPLETED, null, now)
              : new Ended(DagStatus.FAILED, "failed steps: " + String.join(", ", failed), now));
    }
    return out;
  }

  /**
   * Persists {@code events} and then does what they call for: submit started steps, announce, stop
   * when ended.
   */
  private org.apache.pekko.persistence.typed.javadsl.EffectBuilder<Event, State> persistAndFollow(
      List<Event> events) {
    return Effect()
        .persist(events)
        .thenRun(
            (State ns) -> {
              for (Event e : events) {
                if (e instanceof NodeStarted started) submit(ns, started.nodeId());
                announce(ns, e);
              }
              if (ns.status() == DagStatus.RUNNING) startPolling();
              if (ns.status().ended()) {
                timers.cancel(POLL_TIMER);
                passivate();
              }
            });
  }

  // ---------------------------------------------------------------- side effects

  private void submit(State s, String stepId) {
    if (submitting.contains(stepId) || toSubmit.contains(stepId)) return;
    toSubmit.add(stepId);
    submitWaiting(s);
  }

  private void submitWaiting(State s) {
    while (submitting.size() < SUBMITS_IN_FLIGHT && !toSubmit.isEmpty()) {
      String stepId = toSubmit.iterator().next();
      toSubmit.remove(stepId);
      if (s.step(stepId) != StepStatus.RUNNING) continue;
      DagStep step =
          s.spec().steps().stream().filter(n -> n.id().equals(stepId)).findFirst().orElse(null);
      if (step == null) continue;
      submitting.add(stepId);
      if (step.passThrough()) {
        // no task: the step completes with its input as its result, journaled like a task's end
        long now = now();
        context
            .getSelf()
            .tell(
                new TaskAnswer(
                    stepId,
                    new TaskView(
                        taskId(dagId, stepId),
                        step.id(),
                        step.task().type(),
                        TaskView.COMPLETED,
                        inputOf(s, step),
                        null,
                        null,
                        null,
                        0,
                        null,
                        now,
                        now,
                        0L,
                        null,
                        null,
                        0,
                        DagStep.PASS_THROUGH,
                        List.of()),
                    null,
                    true));
        continue;
      }
      TaskSpec spec = taskSpec(s, step);
      context.pipeToSelf(
          call(() -> effects.submitTask(taskId(dagId, stepId), spec)),
          (v, failure) ->
              new TaskAnswer(stepId, v, failure == null ? null : String.valueOf(failure), true));
    }
  }

  /** The step's task with its input filled in from the DAG's input or its dependencies' results. */
  static TaskSpec taskSpec(State s, DagStep step) {
    TaskSpec t = step.task();
    String name =
        t.name() == null || t.name().isBlank() || "task".equals(t.name())
            ? (s.spec().name() == null ? step.id() : s.spec().name() + "/" + step.id())
            : t.name();
    return new TaskSpec(
        name,
        t.type(),
        t.runtime(),
        t.sourceCode(),
        t.wasmBase64(),
        t.entry(),
        t.args(),
        t.dependencies(),
        inputOf(s, step),
        t.requirements(),
        t.timeoutMs(),
        t.retries(),
        t.priority(),
        t.verification());
  }

  static String inputOf(State s, DagStep step) {
    return switch (step.inputMode()) {
      case FIXED -> step.fixedInputJson();
      case DEPENDENCY_ARRAY -> {
        ArrayNode arr = JSON.createArrayNode();
        for (String d : step.dependencies()) arr.add(parse(s.steps().get(d).result()));
        yield arr.toString();
      }
      case BY_DEPENDENCY -> {
        if (step.dependencies().isEmpty()) yield s.spec().inputJson();
        ObjectNode obj = JSON.createObjectNode();
        for (String d : step.dependencies()) obj.set(d, parse(s.steps().get(d).result()));
        yield obj.toString();
      }
    };
  }

  private static JsonNode parse(String json) {
    if (json == null) return NullNode.getInstance();
    try {
      return JSON.readTree(json);
    } catch (Exception notJson) {
      return JSON.getNodeFactory().textNode(json);
    }
  }

  private void startPolling() {
    if (!timers.isTimerActive(POLL_TIMER)) {
      timers.startTimerWithFixedDelay(POLL_TIMER, new Poll(), settings.pollInterval());
    }
  }

  private void announce(State s, Event e) {
    String name;
    String stepId = null;
    String status;
    switch (e) {
      case Scheduled x -> {
        name = "Scheduled";
        status = s.status().display();
      }
      case NodeStarted x -> {
        name = "NodeStarted";
        stepId = x.nodeId();
        status = "Running";
      }
      case NodeCompleted x -> {
        name = "NodeCompleted";
        stepId = x.nodeId();
        status = "Completed";
      }
      case NodeFailed x -> {
        name = "NodeFailed";
        stepId = x.nodeId();
        status = "Failed";
      }
      case NodeSkipped x -> {
        name = "NodeSkipped";
        stepId = x.nodeId();
        status = "Skipped";
      }
      case NodeCancelled x -> {
        name = "NodeCancelled";
        stepId = x.nodeId();
        status = "Cancelled";
      }
      case Ended x -> {
        name = x.status().display();
        status = name;
      }
    }
    try {
      effects.changed(
          new DagChange(
              dagId, name, stepId, status, s.count(StepStatus.COMPLETED), s.steps().size()));
    } catch (RuntimeException ex) {
      context.getLog().warn("DAG {}: change listener failed on {}", dagId, name, ex);
    }
  }

  private void passivate() {
    if (shard != null) shard.tell(new ClusterSharding.Passivate<>(context.getSelf()));
  }

  private <T> CompletionStage<T> call(Supplier<CompletionStage<T>> effect) {
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

  private long now() {
    return clock.millis();
  }

  // ---------------------------------------------------------------- view

  public static DagView view(String dagId, State s) {
    if (s.status() == DagStatus.NEW) {
      return new DagView(
          dagId,
          null,
          DagView.UNKNOWN,
          null,
          null,
          0,
          0,
          0,
          0,
          null,
          null,
          null,
          null,
          null,
          List.of(),
          0,
          List.of());
    }
    DagSpec spec = s.spec();
    List<DagView.StepView> steps = new ArrayList<>(spec.steps().size());
    Set<String> hasDependents = new HashSet<>();
    for (DagStep n : spec.steps()) hasDependents.addAll(n.dependencies());
    // critical path: the chain of completed steps with the longest summed wall time (submitted to
    // ended)
    Map<String, Long> best = new HashMap<>();
    Map<String, String> via = new HashMap<>();
    String end = null;
    for (DagStep n : spec.steps()) {
      StepState ns = s.steps().get(n.id());
      steps.add(
          new DagView.StepView(
              n.id(),
              n.task() == null ? null : n.task().type(),
              ns.status().display(),
              ns.startedAt() == null || n.passThrough() ? null : taskId(dagId, n.id()),
              n.dependencies(),
              ns.result(),
              ns.error(),
              ns.startedAt(),
              ns.completedAt(),
              ns.durationMs()));
      if (ns.status() != StepStatus.COMPLETED) continue;
      long own =
          ns.startedAt() == null || ns.completedAt() == null
              ? 0
              : ns.completedAt() - ns.startedAt();
      long before = 0;
      String from = null;
      for (String d : n.dependencies()) {
        Long b = best.get(d);
        if (b != null && (from == null || b > before)) {
          before = b;
          from = d;
        }
      }
      best.put(n.id(), before + own);
      if (from != null) via.put(n.id(), from);
      if (end == null || best.get(n.id()) >= best.get(end))
        end = n.id(); // ties: the later step, so a path reaches its sink
    }
    List<String> path = new ArrayList<>();
    for (String at = end; at != null; at = via.get(at)) path.add(at);
    Collections.reverse(path);
    String result = null;
    if (s.status() == DagStatus.COMPLETED) {
      List<DagStep> sinks =
          spec.steps().stream().filter(n -> !hasDependents.contains(n.id())).toList();
      if (sinks.size() == 1) {
        result = s.steps().get(sinks.get(0).id()).result();
      } else {
        ObjectNode obj = JSON.createObjectNode();
        for (DagStep n : sinks) obj.set(n.id(), parse(s.steps().get(n.id()).result()));
        result = obj.toString();
      }
    }
    Long duration =
        s.completedAt() == null || s.submittedAt() == null
            ? null
            : s.completedAt() - s.submittedAt();
    return new DagView(
        dagId,
        spec.name(),
        s.status().display(),
        spec.failurePolicy() == DagSpec.FailurePolicy.FAIL_FAST ? "failFast" : "continue",
        spec.maxParallel() == 0 ? null : spec.maxParallel(),
        s.steps().size(),
        s.count(StepStatus.COMPLETED),
        s.count(StepStatus.RUNNING),
        s.count(StepStatus.FAILED),
        s.submittedAt(),
        s.completedAt(),
        duration,
        result,
        s.error(),
        path,
        end == null ? 0 : best.get(end),
        steps);
  }
}
