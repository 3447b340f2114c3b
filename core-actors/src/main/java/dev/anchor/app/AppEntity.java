package dev.anchor.app;

import dev.anchor.CborSerializable;
import dev.anchor.app.AppEffects.Placement;
import dev.anchor.app.AppOrder.AppLogs;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
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
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * One long-lived app (the reference system's "cluster"), event-sourced and sharded like tasks.
 *
 * <p>The entity holds the app's desired state (running or stopped, on which node, which
 * incarnation) and reconciles the worker against it: it sends {@link AppOrder.Run} to the chosen
 * node and repeats it while the node reports nothing for the incarnation; the worker reports the
 * app's process every few seconds ({@link Report}); a report of an app the entity does not want
 * there (another node after a move, an old incarnation, a stopped or deleted app) is answered with
 * {@link AppOrder.Halt}, so one app never runs twice for long. The process itself (install, start,
 * health checks, restarts with backoff, logs) is the worker's job.
 *
 * <p>Journaled: {@link Created}, {@link Placed}, {@link Started} (a new process id), {@link
 * Healthy}, {@link Crashed}, {@link Restarted} (operator), {@link Stopped}, {@link Moved}, {@link
 * Failed}, {@link Deleted}. Periodic reports that change nothing journal nothing. After a
 * coordinator restart the app is not restarted: the recovered entity waits for its node's reports
 * and only moves the app when the node is gone ({@link AppEffects#nodeGone}).
 */
public final class AppEntity
    extends EventSourcedBehavior<AppEntity.Command, AppEntity.Event, AppEntity.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "App");

  static final String TICK_TIMER = "tick";

  // ---------------------------------------------------------------- commands

  public sealed interface Command extends CborSerializable {}

  public record Create(AppSpec spec, ActorRef<StatusReply<AppView>> replyTo) implements Command {}

  public record Get(ActorRef<AppView> replyTo) implements Command {}

  public record StopApp(ActorRef<StatusReply<AppView>> replyTo) implements Command {}

  public record StartApp(ActorRef<StatusReply<AppView>> replyTo) implements Command {}

  public record RestartApp(ActorRef<StatusReply<AppView>> replyTo) implements Command {}

  public record Delete(ActorRef<StatusReply<AppView>> replyTo) implements Command {}

  /**
   * Asks the hosting node for the app's recent log lines (answered by the node, or empty when it
   * runs nowhere).
   */
  public record GetLogs(int limit, ActorRef<AppLogs> replyTo) implements Command {}

  /**
   * The worker's word on the app's process.
   *
   * @param phase Installing, Starting, Running, Backoff, Failed, Refused (the node does not host
   *     apps of this kind), Stopped
   * @param display the X display the node started for the app ({@code ":7"}), null when it has none
   */
  public record Report(
      String nodeId,
      String host,
      int incarnation,
      String phase,
      Long pid,
      Integer port,
      String portNote,
      boolean healthy,
      int restarts,
      Integer exitCode,
      String memoryLimit,
      String cpuLimit,
      String message,
      List<String> lastLogs,
      String display)
      implements Command {
    public Report {
      lastLogs = lastLogs == null ? List.of() : List.copyOf(lastLogs);
    }
  }

  /**
   * Reconcile: place, move off a gone node, repeat an unanswered Run. Sent by the entity's timer.
   */
  public record Tick() implements Command {}

  /** The sharding stop message. */
  public record Stop() implements Command {}

  // ---------------------------------------------------------------- events

  public sealed interface Event extends CborSerializable {
    long at();
  }

  public record Created(String appId, AppSpec spec, long at) implements Event {}

  /**
   * @param nodeId null when no node can take the app yet (it is placed on the next reconcile)
   */
  public record Placed(String nodeId, int incarnation, long at) implements Event {}

  public record Started(
      String nodeId,
      String host,
      int incarnation,
      long pid,
      int port,
      String portNote,
      String memoryLimit,
      String cpuLimit,
      long at)
      implements Event {}

  public record Healthy(int incarnation, long at) implements Event {}

  /**
   * @param restarts restarts of this incarnation so far (the worker's count)
   */
  public record Crashed(int incarnation, Integer exitCode, int restarts, String reason, long at)
      implements Event {}

  public record Restarted(int incarnation, long at) implements Event {}

  public record Stopped(String reason, long at) implements Event {}

  /**
   * @param to null when no other node can take it yet
   * @param graceful the old process keeps running until the new one is healthy (a drain); otherwise
   *     it is halted
   */
  public record Moved(
      String from, String to, int incarnation, String reason, boolean graceful, long at)
      implements Event {}

  public record Failed(
      int incarnation, Integer exitCode, String reason, List<String> lastLogs, long at)
      implements Event {}

  public record Deleted(long at) implements Event {}

  // ---------------------------------------------------------------- state

  /** One journaled event as GET shows it (the last {@value State#HISTORY}). */
  public record HistoryEntry(String event, long at, String nodeId, String detail)
      implements CborSerializable {}

  /**
   * The incarnation a graceful move leaves behind: it serves until the new one is healthy, then it
   * is halted.
   */
  public record Retiring(String nodeId, int incarnation, String host, Integer port)
      implements CborSerializable {}

  public enum Status {
    UNKNOWN("Unknown"),
    DEPLOYING("Deploying"),
    STARTING("Starting"),
    RUNNING("Running"),
    RESTARTING("Restarting"),
    STOPPED("Stopped"),
    FAILED("Failed"),
    DELETED("Deleted");

    public final String label;

    Status(String label) {
      this.label = label;
    }
  }

  /**
   * @param wanted the app should run (false after Stop, Failed, Delete)
   * @param incRestarts restarts the worker counted for the current incarnation
   */
  public record State(
      String appId,
      AppSpec spec,
      Status status,
      boolean wanted,
      String nodeId,
      String host,
      int incarnation,
      Long pid,
      Integer port,
      String portNote,
      boolean healthy,
      int restarts,
      int incRestarts,
      Integer lastExitCode,
      String memoryLimit,
      String cpuLimit,
      Long createdAt,
      Long startedAt,
      Long stoppedAt,
      String message,
      List<String> lastLogs,
      Retiring retiring,
      List<HistoryEntry> history)
      implements CborSerializable {

    /** Entries kept in {@link #history}. */
    static final int HISTORY = 50;

    public static final State EMPTY =
        new State(
            null,
            null,
            Status.UNKNOWN,
            false,
            null,
            null,
            0,
            null,
            null,
            null,
            false,
            0,
            0,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            List.of(),
            null,
            List.of());

    State withRetiring(Retiring r) {
      return new State(
          appId,
          spec,
          status,
          wanted,
          nodeId,
          host,
          incarnation,
          pid,
          port,
          portNote,
          healthy,
          restarts,
          incRestarts,
          lastExitCode,
          memoryLimit,
          cpuLimit,
          createdAt,
          startedAt,
          stoppedAt,
          message,
          lastLogs,
          r,
          history);
    }

    public State {
      lastLogs = lastLogs == null ? List.of() : List.copyOf(lastLogs);
      history = history == null ? List.of() : List.copyOf(history);
    }

    State withHistory(List<HistoryEntry> h) {
      return new State(
          appId,
          spec,
          status,
          wanted,
          nodeId,
          host,
          incarnation,
          pid,
          port,
          portNote,
          healthy,
          restarts,
          incRestarts,
          lastExitCode,
          memoryLimit,
          cpuLimit,
          createdAt,
          startedAt,
          stoppedAt,
          message,
          lastLogs,
          retiring,
          h);
    }

    private List<HistoryEntry> recorded(Event event) {
      String name = event.getClass().getSimpleName();
      HistoryEntry entry =
          switch (event) {
            case Created e -> new HistoryEntry(name, e.at(), null, null);
            case Placed e ->
                new HistoryEntry(
                    name, e.at(), e.nodeId(), e.nodeId() == null ? "waiting for a node" : null);
            case Started e ->
                new HistoryEntry(name, e.at(), e.nodeId(), "pid " + e.pid() + ", port " + e.port());
            case Healthy e -> new HistoryEntry(name, e.at(), nodeId, null);
            case Crashed e -> new HistoryEntry(name, e.at(), nodeId, e.reason());
            case Restarted e -> new HistoryEntry(name, e.at(), nodeId, null);
            case Moved e ->
                new HistoryEntry(name, e.at(), e.to(), "from " + e.from() + ": " + e.reason());
            case Stopped e -> new HistoryEntry(name, e.at(), nodeId, e.reason());
            case Failed e -> new HistoryEntry(name, e.at(), nodeId, e.reason());
            case Deleted e -> new HistoryEntry(name, e.at(), nodeId, null);
          };
      List<HistoryEntry> h = new ArrayList<>(history);
      h.add(entry);
      return h.size() > HISTORY ? h.subList(h.size() - HISTORY, h.size()) : h;
    }

    /**
     * On a node (or to be placed on one) with this incarnation: process facts of the last one are
     * cleared.
     */
    private State placed(String node, int inc, Status st, String msg) {
      return new State(
          appId,
          spec,
          st,
          true,
          node,
          null,
          inc,
          null,
          null,
          null,
          false,
          restarts,
          0,
          lastExitCode,
          null,
          null,
          createdAt,
          startedAt,
          null,
          msg,
          lastLogs,
          retiring,
          history);
    }

    State apply(Event event) {
      State next =
          switch (event) {
            case Created e ->
                new State(
                    e.appId(),
                    e.spec(),
                    Status.DEPLOYING,
                    true,
                    null,
                    null,
                    0,
                    null,
                    null,
                    null,
                    false,
                    0,
                    0,
                    null,
                    null,
                    null,
                    e.at(),
                    null,
                    null,
                    null,
                    List.of(),
                    retiring,
                    history);
            case Placed e -> placed(e.nodeId(), e.incarnation(), Status.DEPLOYING, null);
            case Started e ->
                new State(
                    appId,
                    spec,
                    Status.STARTING,
                    wanted,
                    e.nodeId(),
                    e.host(),
                    e.incarnation(),
                    e.pid(),
                    e.port(),
                    e.portNote(),
                    false,
                    restarts,
                    incRestarts,
                    lastExitCode,
                    e.memoryLimit(),
                    e.cpuLimit(),
                    createdAt,
                    e.at(),
                    null,
                    null,
                    lastLogs,
                    retiring,
                    history);
            case Healthy e ->
                new State(
                    appId,
                    spec,
                    Status.RUNNING,
                    wanted,
                    nodeId,
                    host,
                    incarnation,
                    pid,
                    port,
                    portNote,
                    true,
                    restarts,
                    incRestarts,
                    lastExitCode,
                    memoryLimit,
                    cpuLimit,
                    createdAt,
                    startedAt,
                    stoppedAt,
                    null,
                    lastLogs,
                    retiring,
                    history);
            case Crashed e ->
                new State(
                    appId,
                    spec,
                    Status.RESTARTING,
                    wanted,
                    nodeId,
                    host,
                    incarnation,
                    null,
                    port,
                    portNote,
                    false,
                    restarts + Math.max(1, e.restarts() - incRestarts),
                    e.restarts(),
                    e.exitCode(),
                    memoryLimit,
                    cpuLimit,
                    createdAt,
                    startedAt,
                    stoppedAt,
                    e.reason(),
                    lastLogs,
                    retiring,
                    history);
            case Restarted e ->
                placed(nodeId, e.incarnation(), Status.DEPLOYING, "restarted by request");
            case Moved e ->
                placed(
                    e.to(),
                    e.incarnation(),
                    Status.DEPLOYING,
                    "moved from " + e.from() + ": " + e.reason());
            case Stopped e ->
                new State(
                    appId,
                    spec,
                    Status.STOPPED,
                    false,
                    null,
                    null,
                    incarnation,
                    null,
                    null,
                    null,
                    false,
                    restarts,
                    incRestarts,
                    lastExitCode,
                    memoryLimit,
                    cpuLimit,
                    createdAt,
                    startedAt,
                    e.at(),
                    e.reason(),
                    lastLogs,
                    retiring,
                    history);
            case Failed e ->
                new State(
                    appId,
                    spec,
                    Status.FAILED,
                    false,
                    null,
                    null,
                    incarnation,
                    null,
                    null,
                    null,
                    false,
                    restarts,
                    incRestarts,
                    e.exitCode() != null ? e.exitCode() : lastExitCode,
                    memoryLimit,
                    cpuLimit,
                    createdAt,
                    startedAt,
                    e.at(),
                    e.reason(),
                    e.lastLogs(),
                    retiring,
                    history);
            case Deleted e ->
                new State(
                    appId,
                    spec,
                    Status.DELETED,
                    false,
                    null,
                    null,
                    incarnation,
                    null,
                    null,
                    null,
                    false,
                    restarts,
                    incRestarts,
                    lastExitCode,
                    memoryLimit,
                    cpuLimit,
                    createdAt,
                    startedAt,
                    e.at(),
                    "deleted",
                    List.of(),
                    retiring,
                    history);
          };
      next =
          switch (event) {
            // a graceful move (drain): the old process serves on until the new one is healthy
            case Moved e ->
                next.withRetiring(
                    e.graceful() && nodeId != null
                        ? new Retiring(nodeId, incarnation, host, port)
                        : null);
            case Started e -> next;
            case Crashed e -> next;
            default -> next.withRetiring(null);
          };
      return next.withHistory(recorded(event));
    }
  }

  // ---------------------------------------------------------------- construction

  /**
   * @param tick how often the entity reconciles (placement, gone nodes, unanswered runs)
   * @param shard to passivate an unknown or deleted app; null outside sharding (tests)
   */
  public static Behavior<Command> create(
      String appId,
      AppEffects effects,
      Duration tick,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers -> new AppEntity(appId, effects, tick, clock, shard, ctx, timers)));
  }

  public static Entity<Command, ShardingEnvelope<Command>> entity(
      AppEffects effects, Duration tick) {
    return Entity.of(
            TYPE_KEY,
            ctx -> create(ctx.getEntityId(), effects, tick, Clock.systemUTC(), ctx.getShard()))
        .withStopMessage(new Stop());
  }

  /** An unanswered Run is repeated after this long without a report for the incarnation. */
  static final long RESEND_AFTER_MS = 6_000;

  private final String appId;
  private final AppEffects effects;
  private final Duration tick;
  private final Clock clock;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;

  /** In memory only: the last report for the current incarnation, and when a Run was last sent. */
  private long lastReportAt;

  private long lastRunSentAt;
  private Report lastReport;

  /** Why the app waits for a node (not journaled: it changes with the cluster). */
  private String waitingReason;

  /**
   * Nodes that refused the app (hosting off, commands not allowed); not chosen again by this
   * incarnation.
   */
  private final Set<String> refusedBy = new HashSet<>();

  private AppEntity(
      String appId,
      AppEffects effects,
      Duration tick,
      Clock clock,
      ActorRef<ClusterSharding.ShardCommand> shard,
      ActorContext<Command> context,
      TimerScheduler<Command> timers) {
    super(
        PersistenceId.of(TYPE_KEY.name(), appId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.appId = appId;
    this.effects = effects == null ? AppEffects.NONE : effects;
    this.tick = Objects.requireNonNull(tick, "tick");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.shard = shard;
    this.context = context;
    this.timers = timers;
    this.lastReportAt = clock.millis();
  }

  @Override
  public State emptyState() {
    return State.EMPTY;
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return State::apply;
  }

  /** An app can live for months (and crash often): snapshots bound its recovery as for nodes. */
  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(
            RecoveryCompleted.class,
            (s, sig) -> {
              if (s.wanted() && s.nodeId() != null) effects.holding(appId, s.nodeId(), s.spec());
              if (s.status() != Status.UNKNOWN && s.status() != Status.DELETED) {
                timers.startTimerWithFixedDelay(TICK_TIMER, new Tick(), tick);
              }
            })
        .build();
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return this::handle;
  }

  private long now() {
    return clock.millis();
  }

  private Effect<Event, State> handle(State s, Command command) {
    return switch (command) {
      case Create c -> onCreate(s, c);
      case Get c -> {
        // an unknown or deleted app must not stay a remembered entity
        if (s.status() == Status.UNKNOWN || s.status() == Status.DELETED) passivate();
        yield Effect().reply(c.replyTo(), view(s));
      }
      case StopApp c -> onStop(s, c);
      case StartApp c -> onStart(s, c.replyTo());
      case RestartApp c -> onRestart(s, c);
      case Delete c -> onDelete(s, c);
      case GetLogs c -> {
        if (s.nodeId() != null && s.wanted()) {
          effects.send(new AppOrder.Logs(s.nodeId(), appId, c.limit(), c.replyTo()));
        } else {
          c.replyTo().tell(new AppLogs(appId, null, s.lastLogs(), 0));
        }
        yield Effect().none();
      }
      case Report c -> onReport(s, c);
      case Tick c -> onTick(s);
      case Stop c -> Effect().stop();
    };
  }

  // ---------------------------------------------------------------- operator commands

  private Effect<Event, State> onCreate(State s, Create c) {
    if (s.status() != Status.UNKNOWN)
      return Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    if (c.spec() == null)
      return Effect().reply(c.replyTo(), StatusReply.error("an app needs a spec"));
    List<Event> events = new ArrayList<>();
    long now = now();
    events.add(new Created(appId, c.spec(), now));
    Placement p = effects.place(appId, c.spec(), Set.of());
    if (p instanceof Placement.On on) {
      events.add(new Placed(on.nodeId(), 1, now));
    } else {
      waitingReason = ((Placement.Nowhere) p).reason();
    }
    return persist(events)
        .thenRun(
            ns -> {
              timers.startTimerWithFixedDelay(TICK_TIMER, new Tick(), tick);
              sendRun(ns);
            })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onStop(State s, StopApp c) {
    if (s.status() == Status.UNKNOWN || s.status() == Status.DELETED) {
      return Effect().reply(c.replyTo(), StatusReply.error("unknown app " + appId));
    }
    if (!s.wanted()) return Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    String node = s.nodeId();
    int inc = s.incarnation();
    Retiring old = s.retiring();
    return persist(new Stopped("stopped by request", now()))
        .thenRun(
            ns -> {
              release(node, inc, "stopped by request");
              halt(old, "stopped by request");
            })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onStart(State s, ActorRef<StatusReply<AppView>> replyTo) {
    if (s.status() == Status.UNKNOWN || s.status() == Status.DELETED) {
      return Effect().reply(replyTo, StatusReply.error("unknown app " + appId));
    }
    if (s.wanted()) return Effect().reply(replyTo, StatusReply.success(view(s)));
    refusedBy.clear();
    Placement p = effects.place(appId, s.spec(), Set.of());
    String node = p instanceof Placement.On on ? on.nodeId() : null;
    waitingReason = p instanceof Placement.Nowhere n ? n.reason() : null;
    return persist(new Placed(node, s.incarnation() + 1, now()))
        .thenRun(this::sendRun)
        .thenReply(replyTo, ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onRestart(State s, RestartApp c) {
    if (s.status() == Status.UNKNOWN || s.status() == Status.DELETED) {
      return Effect().reply(c.replyTo(), StatusReply.error("unknown app " + appId));
    }
    if (!s.wanted() || s.nodeId() == null) return onStart(s, c.replyTo());
    // a new incarnation on the same node: the worker stops the old process and starts a new one
    return persist(new Restarted(s.incarnation() + 1, now()))
        .thenRun(this::sendRun)
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onDelete(State s, Delete c) {
    if (s.status() == Status.UNKNOWN || s.status() == Status.DELETED) {
      return Effect().reply(c.replyTo(), StatusReply.error("unknown app " + appId));
    }
    String node = s.nodeId();
    int inc = s.incarnation();
    Retiring old = s.retiring();
    return persist(new Deleted(now()))
        .thenRun(
            ns -> {
              release(node, inc, "deleted");
              halt(old, "deleted");
              timers.cancel(TICK_TIMER);
              passivate();
            })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  // ---------------------------------------------------------------- the worker's reports

  private Effect<Event, State> onReport(State s, Report r) {
    Retiring old = s.retiring();
    if (old != null
        && s.wanted()
        && r.nodeId().equals(old.nodeId())
        && r.incarnation() == old.incarnation()) {
      return Effect().none(); // serves on until the new incarnation is healthy
    }
    boolean current =
        s.wanted() && r.nodeId().equals(s.nodeId()) && r.incarnation() == s.incarnation();
    if (!current) {
      if (!"Stopped".equals(r.phase())) {
        effects.send(
            new AppOrder.Halt(
                r.nodeId(),
                appId,
                r.incarnation(),
                s.status() == Status.DELETED || s.status() == Status.UNKNOWN
                    ? "the app was deleted"
                    : !s.wanted()
                        ? "the app is " + s.status().label
                        : "the app runs as incarnation " + s.incarnation() + " on " + s.nodeId()));
      }
      return Effect().none();
    }
    lastReportAt = now();
    lastReport = r;
    long now = now();
    switch (r.phase()) {
      case "Refused" -> {
        refusedBy.add(r.nodeId());
        return move(s, "node " + r.nodeId() + " refused it: " + r.message(), false);
      }
      case "Failed" -> {
        return persist(new Failed(s.incarnation(), r.exitCode(), r.message(), r.lastLogs(), now))
            .thenRun(
                ns -> {
                  release(r.nodeId(), r.incarnation(), "failed");
                  halt(old, "the new incarnation failed; the app is Failed");
                });
      }
      case "Stopped" -> {
        return Effect()
            .none(); // the worker stopped on its own (shutting down): the next tick decides
      }
      default -> {
        List<Event> events = new ArrayList<>();
        if (r.restarts() > s.incRestarts()) {
          events.add(new Crashed(s.incarnation(), r.exitCode(), r.restarts(), r.message(), now));
        }
        if (r.pid() != null && !r.pid().equals(s.pid()) && r.port() != null) {
          events.add(
              new Started(
                  r.nodeId(),
                  r.host(),
                  s.incarnation(),
                  r.pid(),
                  r.port(),
                  r.portNote(),
                  r.memoryLimit(),
                  r.cpuLimit(),
                  now));
        }
        boolean runningNow = r.pid() != null && "Running".equals(r.phase());
        if (runningNow && r.healthy() && (s.status() != Status.RUNNING || !events.isEmpty())) {
          events.add(new Healthy(s.incarnation(), now));
        }
        if (events.isEmpty()) return Effect().none();
        boolean healthyNow = events.stream().anyMatch(e -> e instanceof Healthy);
        return persist(events)
            .thenRun(
                ns -> {
                  if (healthyNow) halt(old, "moved to " + ns.nodeId() + ", which is healthy");
                });
      }
    }
  }

  // ---------------------------------------------------------------- reconcile

  private Effect<Event, State> onTick(State s) {
    if (!s.wanted()) return Effect().none();
    if (s.nodeId() == null) {
      Placement p = effects.place(appId, s.spec(), refusedBy);
      if (p instanceof Placement.On on) {
        waitingReason = null;
        return persist(new Placed(on.nodeId(), s.incarnation() + 1, now())).thenRun(this::sendRun);
      }
      waitingReason = ((Placement.Nowhere) p).reason();
      return Effect().none();
    }
    if (effects.nodeGone(s.nodeId())) {
      return move(s, "node " + s.nodeId() + " left the cluster", false);
    }
    if (s.retiring() == null && s.status() == Status.RUNNING && effects.nodeDraining(s.nodeId())) {
      Set<String> excluded = new HashSet<>(refusedBy);
      excluded.add(s.nodeId());
      if (effects.place(appId, s.spec(), excluded) instanceof Placement.On) {
        return move(s, "node " + s.nodeId() + " is draining", true);
      }
      waitingReason = null;
    }
    long now = now();
    if (now - lastReportAt > RESEND_AFTER_MS && now - lastRunSentAt > RESEND_AFTER_MS) {
      context
          .getLog()
          .debug(
              "App {}: no report from {} for incarnation {}, sending Run again",
              appId,
              s.nodeId(),
              s.incarnation());
      sendRun(s);
    }
    return Effect().none();
  }

  /**
   * Off its node, to another one if any can take it (else it waits, placed on a later tick).
   * Graceful: the old process keeps serving until the new one is healthy (drain); otherwise the old
   * node is told to stop it now.
   */
  private Effect<Event, State> move(State s, String reason, boolean graceful) {
    Set<String> excluded = new HashSet<>(refusedBy);
    excluded.add(s.nodeId());
    Placement p = effects.place(appId, s.spec(), excluded);
    String to = p instanceof Placement.On on ? on.nodeId() : null;
    waitingReason = p instanceof Placement.Nowhere n ? n.reason() : null;
    String from = s.nodeId();
    int oldInc = s.incarnation();
    boolean keepOld = graceful && to != null;
    return persist(new Moved(from, to, s.incarnation() + 1, reason, keepOld, now()))
        .thenRun(
            ns -> {
              // should the old node still run it (refused, or back after a partition), it is told
              // to stop
              if (!keepOld) effects.send(new AppOrder.Halt(from, appId, oldInc, "moved to " + to));
              halt(s.retiring(), "moved again");
              sendRun(ns);
            });
  }

  /** Journals the events, then announces each with the new view ({@link AppEffects#changed}). */
  private EffectBuilder<Event, State> persist(Event event) {
    return persist(List.of(event));
  }

  private EffectBuilder<Event, State> persist(List<Event> events) {
    return Effect()
        .persist(events)
        .thenRun(
            ns -> {
              AppView v = view(ns);
              for (Event e : events) effects.changed(e.getClass().getSimpleName(), v);
            });
  }

  private void sendRun(State ns) {
    if (!ns.wanted() || ns.nodeId() == null) {
      effects.holding(appId, null, ns.spec());
      return;
    }
    effects.holding(appId, ns.nodeId(), ns.spec());
    lastRunSentAt = now();
    lastReportAt = now();
    lastReport = null;
    effects.send(new AppOrder.Run(ns.nodeId(), appId, ns.incarnation(), ns.spec()));
  }

  private void release(String node, int incarnation, String reason) {
    effects.holding(appId, null, null);
    if (node != null) effects.send(new AppOrder.Halt(node, appId, incarnation, reason));
  }

  private void halt(Retiring r, String reason) {
    if (r != null) effects.send(new AppOrder.Halt(r.nodeId(), appId, r.incarnation(), reason));
  }

  private void passivate() {
    if (shard != null) shard.tell(new ClusterSharding.Passivate<>(context.getSelf()));
  }

  // ---------------------------------------------------------------- view

  AppView view(State s) {
    if (s.status() == Status.UNKNOWN) return AppView.unknown(appId);
    Report r = lastReport;
    boolean fresh = r != null && s.wanted() && r.incarnation() == s.incarnation();
    String health =
        !s.wanted()
            ? "unknown"
            : fresh ? (r.healthy() ? "healthy" : "unhealthy") : s.healthy() ? "healthy" : "unknown";
    String message = s.message();
    if (s.wanted() && s.nodeId() == null && waitingReason != null)
      message = "waiting for a node: " + waitingReason;
    else if (fresh && r.message() != null && !"Running".equals(r.phase())) message = r.message();
    String status = s.status().label;
    if (fresh && s.status() == Status.RUNNING && !r.healthy()) status = "Unhealthy";
    AppSpec spec = s.spec();
    return new AppView(
        appId,
        spec.name(),
        spec.type(),
        status,
        s.wanted(),
        s.nodeId(),
        s.host(),
        s.port(),
        spec.port(),
        s.portNote(),
        s.pid(),
        s.restarts(),
        s.lastExitCode(),
        health,
        spec.healthPath(),
        new AppView.Limits(spec.ramMb(), spec.cpu(), s.memoryLimit(), s.cpuLimit()),
        s.createdAt(),
        s.startedAt(),
        s.stoppedAt(),
        s.incarnation(),
        message,
        s.lastLogs(),
        s.retiring() == null
            ? null
            : new AppView.Retiring(s.retiring().nodeId(), s.retiring().host(), s.retiring().port()),
        s.history(),
        spec.display()
            ? new AppView.Display(fresh ? displayNumber(r.display()) : null, spec.displaySize())
            : null);
  }

  private static Integer displayNumber(String display) {
    if (display == null || !display.startsWith(":")) return null;
    try {
      return Integer.parseInt(display.substring(1).split("\\.")[0]);
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
