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
 * One DAG's run, event-sourced: its nodes run as ordinary tasks (sharded {@code TaskEntity}) with
 * deterministic ids {@code dag-<dagId>.<nodeId>}, so submitting a node again after a crash never
 * runs it twice.
 *
 * <p>Rules a caller relies on:
 *
 * <ul>
 *   <li>A node is journaled as started ({@link NodeStarted}) before its task is submitted; a
 *       started node whose task is unknown after a crash is submitted again, an already existing
 *       task is only looked at.
 *   <li>A node's task reports its end through {@link NodeEnded} (forwarded by the task effects); in
 *       case such a forward is lost, every running node's task is asked for its state after
 *       recovery and every {@link DagSettings#pollInterval()} while the DAG runs ({@link
 *       #POLL_BATCH} nodes per tick, going round). The first end seen counts; later ones change
 *       nothing.
 *   <li>A node starts once all its dependencies completed, and at most {@link
 *       DagSpec#maxParallel()} run at once.
 *   <li>Failure policy: {@code FAIL_FAST} skips every node that has not started once one failed
 *       (running ones finish); {@code CONTINUE} skips only the nodes that depend, directly or not,
 *       on a failed one.
 *   <li>Schedule is idempotent; Get of an unknown DAG and a DAG that ended ask the shard to
 *       passivate.
 * </ul>
 */
public final class DagEntity
    extends EventSourcedBehavior<DagEntity.Command, DagEntity.Event, DagEntity.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Dag");

  /** Task ids of DAG nodes start with this. */
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

  /** Cancel pending and running nodes; a DAG that already ended answers an error. */
  public record Cancel(ActorRef<StatusReply<DagView>> replyTo) implements Command {}

  /**
   * The task of {@code nodeId} ended (Completed, Failed or Cancelled); {@code task} is its final
   * view.
   */
  public record NodeEnded(String nodeId, TaskView task) implements Command {}

  /** The sharding stop message. */
  public record Stop() implements Command {}

  record Poll() implements Command {}

  /** Journal the node ends gathered since the last flush, in one write. */
  record Flush() implements Command {}

  /** A submit or get of a node's task answered {@code task}, or failed with {@code failure}. */
  record TaskAnswer(String nodeId, TaskView task, String failure, boolean fromSubmit)
      implements Command {}

  // ---------------------------------------------------------------- events

  public sealed interface Event extends CborSerializable {
    long at();
  }

  /**
   * @param spec the nodes in dependency order
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

  public enum NodeStatus {
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
   * @param startedAt when the node's task was submitted; {@code durationMs} is the task's own run
   *     time
   */
  public record NodeState(
      NodeStatus status,
      String result,
      String error,
      Long startedAt,
      Long completedAt,
      Long durationMs)
      implements CborSerializable {
    static final NodeState PENDING =
        new NodeState(NodeStatus.PENDING, null, null, null, null, null);
  }

  public record State(
      DagStatus status,
      DagSpec spec,
      Map<String, NodeState> nodes,
      Long submittedAt,
      Long completedAt,
      String error)
      implements CborSerializable {
    public static final State EMPTY = new State(DagStatus.NEW, null, Map.of(), null, null, null);

    public State {
      nodes = nodes == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(nodes));
    }

    public NodeStatus node(String id) {
      NodeState n = nodes.get(id);
      return n == null ? null : n.status();
    }

    public int count(NodeStatus status) {
      int c = 0;
      for (NodeState n : nodes.values()) if (n.status() == status) c++;
      return c;
    }

    State apply(Event event) {
      return switch (event) {
        case Scheduled e -> {
          Map<String, NodeState> ns = new LinkedHashMap<>();
          for (DagNodeSpec n : e.spec().nodes()) ns.put(n.id(), NodeState.PENDING);
          yield new State(DagStatus.RUNNING, e.spec(), ns, e.at(), null, null);
        }
        case NodeStarted e ->
            withNode(e.nodeId(), new NodeState(NodeStatus.RUNNING, null, null, e.at(), null, null));
        case NodeCompleted e ->
            withNode(
                e.nodeId(),
                new NodeState(
                    NodeStatus.COMPLETED,
                    e.resultJson(),
                    null,
                    nodes.get(e.nodeId()).startedAt(),
                    e.at(),
                    e.durationMs()));
        case NodeFailed e ->
            withNode(
                e.nodeId(),
                new NodeState(
                    NodeStatus.FAILED,
                    null,
                    e.error(),
                    nodes.get(e.nodeId()).startedAt(),
                    e.at(),
                    null));
        case NodeSkipped e ->
            withNode(
                e.nodeId(),
                new NodeState(NodeStatus.SKIPPED, null, e.reason(), null, e.at(), null));
        case NodeCancelled e ->
            withNode(
                e.nodeId(),
                new NodeState(
                    NodeStatus.CANCELLED,
                    null,
                    null,
                    nodes.get(e.nodeId()).startedAt(),
                    e.at(),
                    null));
        case Ended e -> new State(e.status(), spec, nodes, submittedAt, e.at(), e.error());
      };
    }

    private State withNode(String id, NodeState n) {
      Map<String, NodeState> ns = new LinkedHashMap<>(nodes);
      ns.put(id, n);
      return new State(status, spec, ns, submittedAt, completedAt, error);
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

  /** The id of the task that runs {@code nodeId} of DAG {@code dagId} (dag ids hold no '.'). */
  public static String taskId(String dagId, String nodeId) {
    return TASK_PREFIX + dagId + "." + nodeId;
  }

  /** {dagId, nodeId} of a DAG node's task id, or null for any other task. */
  public static String[] parseTaskId(String taskId) {
    if (taskId == null || !taskId.startsWith(TASK_PREFIX)) return null;
    int dot = taskId.indexOf('.', TASK_PREFIX.length());
    if (dot <= TASK_PREFIX.length() || dot == taskId.length() - 1) return null;
    return new String[] {taskId.substring(TASK_PREFIX.length(), dot), taskId.substring(dot + 1)};
  }

  /** Tells the DAG of an ended task that is one of its nodes; other tasks are ignored. */
  public static void forwardEnded(ClusterSharding sharding, TaskView task) {
    String[] ids = parseTaskId(task.taskId());
    if (ids == null) return;
    sharding.entityRefFor(TYPE_KEY, ids[0]).tell(new NodeEnded(ids[1], task));
  }

  private final String dagId;
  private final DagEffects effects;
  private final DagSettings settings;
  private final Clock clock;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;

  /**
   * Nodes whose submit is in flight, so a poll does not submit them a second time meanwhile. Not
   * journaled.
   */
  private final Set<String> submitting = new HashSet<>();

  /**
   * Started nodes whose submit waits for a free slot (at most {@link #SUBMITS_IN_FLIGHT} at once).
   * Not journaled.
   */
  private final java.util.LinkedHashSet<String> toSubmit = new java.util.LinkedHashSet<>();

  /**
   * Node ends seen but not yet journaled; a crash loses them, and the recovery poll finds them
   * again.
   */
  private final Map<String, TaskView> endsToJournal = new LinkedHashMap<>();

  private boolean flushQueued;

  /** Nodes whose task lookup is in flight. Not journaled. */
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
      case NodeEnded c -> onTaskEnded(s, c.nodeId(), c.task());
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
    var problem = DagValidator.validate(c.spec(), settings.maxNodes());
    if (problem.isPresent())
      return Effect().reply(c.replyTo(), StatusReply.error(problem.get().error()));
    DagSpec ordered =
        new DagSpec(
            c.spec().name(),
            DagValidator.topologicalOrder(c.spec().nodes()),
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
    for (DagNodeSpec n : s.spec().nodes()) {
      NodeStatus st = s.node(n.id());
      if (st == NodeStatus.RUNNING) running.add(n.id());
      if (st == NodeStatus.RUNNING || st == NodeStatus.PENDING)
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
   * already waiting in the mailbox and a thousand parallel nodes ending at once cost a few writes,
   * not a thousand.
   */
  private Effect<Event, State> onTaskEnded(State s, String nodeId, TaskView task) {
    if (s.status() == DagStatus.NEW) {
      passivate();
      return Effect().none();
    }
    if (s.status() != DagStatus.RUNNING || s.node(nodeId) != NodeStatus.RUNNING || task == null)
      return Effect().none();
    if (!task.status().equals(TaskView.COMPLETED)
        && !task.status().equals(TaskView.FAILED)
        && !task.status().equals(TaskView.CANCELLED)) {
      return Effect().none();
    }
    endsToJournal.putIfAbsent(nodeId, task);
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
      String nodeId = e.getKey();
      TaskView task = e.getValue();
      if (cur.status() != DagStatus.RUNNING || cur.node(nodeId) != NodeStatus.RUNNING) continue;
      Event end =
          switch (task.status()) {
            case TaskView.COMPLETED ->
                new NodeCompleted(nodeId, task.result(), task.durationMs(), now);
            case TaskView.FAILED ->
                new NodeFailed(nodeId, task.error() == null ? "failed" : task.error(), now);
            default -> new NodeFailed(nodeId, "its task " + task.taskId() + " was cancelled", now);
          };
      events.add(end);
      cur = cur.apply(end);
    }
    endsToJournal.clear();
    if (events.isEmpty()) return Effect().none();
    events.addAll(advance(cur));
    return persistAndFollow(events);
  }

  private Effect<Event, State> onPoll(State s) {
    if (s.status() != DagStatus.RUNNING) return Effect().none();
    // a bounded batch per tick, going round the nodes: a wide DAG must not flood its tasks (and
    // itself) with lookups
    List<DagNodeSpec> nodes = s.spec().nodes();
    int asked = 0;
    for (int i = 0; i < nodes.size() && asked < POLL_BATCH; i++) {
      pollCursor = (pollCursor + 1) % nodes.size();
      String id = nodes.get(pollCursor).id();
      if (s.node(id) != NodeStatus.RUNNING
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
      submitting.remove(a.nodeId());
      submitWaiting(s);
      // the DAG was cancelled while this submit was on its way, so the cancel may have missed the
      // task: cancel it now
      boolean orphan =
          s.node(a.nodeId()) == NodeStatus.CANCELLED
              && a.task() != null
              && !List.of(TaskView.COMPLETED, TaskView.FAILED, TaskView.CANCELLED)
                  .contains(a.task().status());
      if (orphan) call(() -> effects.cancelTask(taskId(dagId, a.nodeId())));
    } else {
      lookingUp.remove(a.nodeId());
    }
    if (s.status() != DagStatus.RUNNING || s.node(a.nodeId()) != NodeStatus.RUNNING)
      return Effect().none();
    if (a.failure() != null || a.task() == null) {
      // the next poll asks again (and submits if the task does not exist)
      context
          .getLog()
          .warn(
              "DAG {}: {} of node {} failed: {}",
              dagId,
              a.fromSubmit() ? "submit" : "lookup",
              a.nodeId(),
              a.failure());
      return Effect().none();
    }
    if (TaskView.UNKNOWN.equals(a.task().status())) {
      // journaled as started but the task never got created (a crash between the two): create it
      // now
      if (!a.fromSubmit()) submit(s, a.nodeId());
      return Effect().none();
    }
    return onTaskEnded(s, a.nodeId(), a.task());
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
   * The events that follow from {@code s}: nodes to skip, nodes now ready (up to the parallel cap),
   * and the DAG's end once nothing is pending or running.
   */
  List<Event> advance(State s) {
    List<Event> out = new ArrayList<>();
    if (s.status() != DagStatus.RUNNING) return out;
    long now = now();
    State cur = s;
    boolean failFast =
        s.spec().failurePolicy() == DagSpec.FailurePolicy.FAIL_FAST
            && s.count(NodeStatus.FAILED) > 0;
    for (DagNodeSpec n :
        s.spec().nodes()) { // dependency order: a skip reaches every dependent in one pass
      if (cur.node(n.id()) != NodeStatus.PENDING) continue;
      String reason = null;
      if (failFast) {
        reason = "not started: another node failed and the DAG fails fast";
      } else {
        for (String d : n.dependencies()) {
          if (cur.node(d).unsuccessful()) {
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
    int slots = cap == 0 ? Integer.MAX_VALUE : cap - cur.count(NodeStatus.RUNNING);
    for (DagNodeSpec n : s.spec().nodes()) {
      if (slots <= 0) break;
      if (cur.node(n.id()) != NodeStatus.PENDING) continue;
      boolean ready = true;
      for (String d : n.dependencies()) {
        if (cur.node(d) != NodeStatus.COMPLETED) {
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
    if (cur.count(NodeStatus.PENDING) == 0 && cur.count(NodeStatus.RUNNING) == 0) {
      List<String> failed = new ArrayList<>();
      for (var e : cur.nodes().entrySet())
        if (e.getValue().status() == NodeStatus.FAILED) failed.add(e.getKey());
      out.add(
          failed.isEmpty()
              ? new Ended(DagStatus.COMPLETED, null, now)
              : new Ended(DagStatus.FAILED, "failed nodes: " + String.join(", ", failed), now));
    }
    return out;
  }

  /**
   * Persists {@code events} and then does what they call for: submit started nodes, announce, stop
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

  private void submit(State s, String nodeId) {
    if (submitting.contains(nodeId) || toSubmit.contains(nodeId)) return;
    toSubmit.add(nodeId);
    submitWaiting(s);
  }

  private void submitWaiting(State s) {
    while (submitting.size() < SUBMITS_IN_FLIGHT && !toSubmit.isEmpty()) {
      String nodeId = toSubmit.iterator().next();
      toSubmit.remove(nodeId);
      if (s.node(nodeId) != NodeStatus.RUNNING) continue;
      DagNodeSpec node =
          s.spec().nodes().stream().filter(n -> n.id().equals(nodeId)).findFirst().orElse(null);
      if (node == null) continue;
      submitting.add(nodeId);
      if (node.passThrough()) {
        // no task: the node completes with its input as its result, journaled like a task's end
        long now = now();
        context
            .getSelf()
            .tell(
                new TaskAnswer(
                    nodeId,
                    new TaskView(
                        taskId(dagId, nodeId),
                        node.id(),
                        node.task().type(),
                        TaskView.COMPLETED,
                        inputOf(s, node),
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
                        DagNodeSpec.PASS_THROUGH,
                        List.of()),
                    null,
                    true));
        continue;
      }
      TaskSpec spec = taskSpec(s, node);
      context.pipeToSelf(
          call(() -> effects.submitTask(taskId(dagId, nodeId), spec)),
          (v, failure) ->
              new TaskAnswer(nodeId, v, failure == null ? null : String.valueOf(failure), true));
    }
  }

  /** The node's task with its input filled in from the DAG's input or its dependencies' results. */
  static TaskSpec taskSpec(State s, DagNodeSpec node) {
    TaskSpec t = node.task();
    String name =
        t.name() == null || t.name().isBlank() || "task".equals(t.name())
            ? (s.spec().name() == null ? node.id() : s.spec().name() + "/" + node.id())
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
        inputOf(s, node),
        t.requirements(),
        t.timeoutMs(),
        t.retries(),
        t.priority(),
        t.verification());
  }

  static String inputOf(State s, DagNodeSpec node) {
    return switch (node.inputMode()) {
      case FIXED -> node.fixedInputJson();
      case DEPENDENCY_ARRAY -> {
        ArrayNode arr = JSON.createArrayNode();
        for (String d : node.dependencies()) arr.add(parse(s.nodes().get(d).result()));
        yield arr.toString();
      }
      case BY_DEPENDENCY -> {
        if (node.dependencies().isEmpty()) yield s.spec().inputJson();
        ObjectNode obj = JSON.createObjectNode();
        for (String d : node.dependencies()) obj.set(d, parse(s.nodes().get(d).result()));
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
    String nodeId = null;
    String status;
    switch (e) {
      case Scheduled x -> {
        name = "Scheduled";
        status = s.status().display();
      }
      case NodeStarted x -> {
        name = "NodeStarted";
        nodeId = x.nodeId();
        status = "Running";
      }
      case NodeCompleted x -> {
        name = "NodeCompleted";
        nodeId = x.nodeId();
        status = "Completed";
      }
      case NodeFailed x -> {
        name = "NodeFailed";
        nodeId = x.nodeId();
        status = "Failed";
      }
      case NodeSkipped x -> {
        name = "NodeSkipped";
        nodeId = x.nodeId();
        status = "Skipped";
      }
      case NodeCancelled x -> {
        name = "NodeCancelled";
        nodeId = x.nodeId();
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
              dagId, name, nodeId, status, s.count(NodeStatus.COMPLETED), s.nodes().size()));
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
    List<DagView.NodeView> nodes = new ArrayList<>(spec.nodes().size());
    Set<String> hasDependents = new HashSet<>();
    for (DagNodeSpec n : spec.nodes()) hasDependents.addAll(n.dependencies());
    // critical path: the chain of completed nodes with the longest summed wall time (submitted to
    // ended)
    Map<String, Long> best = new HashMap<>();
    Map<String, String> via = new HashMap<>();
    String end = null;
    for (DagNodeSpec n : spec.nodes()) {
      NodeState ns = s.nodes().get(n.id());
      nodes.add(
          new DagView.NodeView(
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
      if (ns.status() != NodeStatus.COMPLETED) continue;
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
        end = n.id(); // ties: the later node, so a path reaches its sink
    }
    List<String> path = new ArrayList<>();
    for (String at = end; at != null; at = via.get(at)) path.add(at);
    Collections.reverse(path);
    String result = null;
    if (s.status() == DagStatus.COMPLETED) {
      List<DagNodeSpec> sinks =
          spec.nodes().stream().filter(n -> !hasDependents.contains(n.id())).toList();
      if (sinks.size() == 1) {
        result = s.nodes().get(sinks.get(0).id()).result();
      } else {
        ObjectNode obj = JSON.createObjectNode();
        for (DagNodeSpec n : sinks) obj.set(n.id(), parse(s.nodes().get(n.id()).result()));
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
        s.nodes().size(),
        s.count(NodeStatus.COMPLETED),
        s.count(NodeStatus.RUNNING),
        s.count(NodeStatus.FAILED),
        s.submittedAt(),
        s.completedAt(),
        duration,
        result,
        s.error(),
        path,
        end == null ? 0 : best.get(end),
        nodes);
  }
}
