package dev.anchor.node;

import dev.anchor.CborSerializable;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * One worker node's registration and condition, event-sourced.
 *
 * <p>Heartbeats arrive every few seconds from every node, so journaling each one would make the
 * journal the busiest thing in the system for information that is stale seconds later. Instead the
 * latest metrics and last-seen time are kept in memory and shown by {@link Get}; a {@link
 * HeartbeatRecorded} is journaled only when the last journaled sighting is older than {@link
 * NodeSettings#heartbeatPersistInterval()} (default 60 s) or when the heartbeat brings an Offline
 * node back. After a restart the view is therefore at most that interval stale until the next
 * heartbeat. Snapshots every 100 events, keeping two and deleting the events they cover, bound the
 * journal of a node that runs for months.
 *
 * <p>Status: Online after {@link Register}; {@link Drain} → Draining (finishes its work, takes no
 * new); {@link MarkOffline} → Offline; a heartbeat or a new registration brings an Offline node
 * back Online, and a new registration also ends Draining (the node restarted). {@link Cordon} is an
 * operator flag kept across all of this until {@link Uncordon}, which also ends Draining (returns
 * the node to service). Operator commands on a never-registered node answer an error.
 *
 * <p>Reputation: every cross-checked result of the node arrives as a {@link RecordVerdict} (at most
 * once per task: the last task ids are kept to ignore a repeated verdict). The rules are {@link
 * NodeSettings.Reputation}; a node whose reputation falls below the threshold is {@link
 * Quarantined} — it takes no work until {@link Release}, which resets it to the initial (unproven)
 * reputation so adaptive verification checks it again.
 *
 * <p>Every change and every heartbeat publishes a {@link NodeStatus} through {@link NodeEffects},
 * so schedulers and the worker learn drain/cordon/quarantine within a heartbeat; while the node
 * takes no work its unread queue is withdrawn on each heartbeat.
 */
public final class NodeEntity
    extends EventSourcedBehavior<NodeEntity.Command, NodeEntity.Event, NodeEntity.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Node");

  // ---------------------------------------------------------------- commands

  public sealed interface Command extends CborSerializable {}

  /** The node (re)joined with these specs; answers its view once recorded. */
  public record Register(NodeSpecs specs, ActorRef<StatusReply<NodeView>> replyTo)
      implements Command {}

  /**
   * The node is alive with this load.
   *
   * @param replyTo null for fire-and-forget; otherwise answers the view, or an error if the node
   *     never registered (so the worker knows to register)
   */
  public record Heartbeat(NodeMetrics metrics, ActorRef<StatusReply<NodeView>> replyTo)
      implements Command {
    public Heartbeat(NodeMetrics metrics) {
      this(metrics, null);
    }
  }

  /** The node left the cluster (sent by the cluster monitor). */
  public record MarkOffline(String reason) implements Command {}

  /** Let the node finish its work but give it no new tasks. */
  public record Drain(ActorRef<StatusReply<NodeView>> replyTo) implements Command {}

  /** Operator: exclude the node from new work until {@link Uncordon}. */
  public record Cordon(ActorRef<StatusReply<NodeView>> replyTo) implements Command {}

  public record Uncordon(ActorRef<StatusReply<NodeView>> replyTo) implements Command {}

  /** Operator: end a quarantine. */
  public record Release(ActorRef<StatusReply<NodeView>> replyTo) implements Command {}

  /**
   * The node's result for {@code taskId} agreed (or not) with the verified result.
   *
   * @param replyTo null for fire-and-forget; answers once recorded (or known to be a repeat)
   */
  public record RecordVerdict(
      String taskId, boolean agreed, ActorRef<StatusReply<NodeView>> replyTo) implements Command {}

  /** Answers the view; a never-registered node answers status {@link NodeView#UNKNOWN}. */
  public record Get(ActorRef<NodeView> replyTo) implements Command {}

  /** The sharding stop message. */
  public record Stop() implements Command {}

  // ---------------------------------------------------------------- events

  public sealed interface Event extends CborSerializable {
    long at();
  }

  public record Registered(NodeSpecs specs, long at) implements Event {}

  public record HeartbeatRecorded(NodeMetrics metrics, long at) implements Event {}

  public record WentOffline(String reason, long at) implements Event {}

  public record DrainStarted(long at) implements Event {}

  public record Cordoned(long at) implements Event {}

  public record Uncordoned(long at) implements Event {}

  /**
   * @param reputation the reputation after this verdict
   */
  public record VerdictRecorded(String taskId, boolean agreed, double reputation, long at)
      implements Event {}

  public record Quarantined(String reason, long at) implements Event {}

  /**
   * @param reputation the reputation the node restarts with
   */
  public record Released(double reputation, long at) implements Event {}

  // ---------------------------------------------------------------- state

  public enum Status {
    UNKNOWN,
    ONLINE,
    DRAINING,
    OFFLINE
  }

  /**
   * @param lastSeen the last journaled sighting; fresher sightings live in memory only
   * @param reputation NaN until the first verdict or release: read it through {@link
   *     #reputation(double)}
   * @param recentVerdicts the last {@link #RECENT_VERDICTS} task ids judged, to ignore a repeated
   *     verdict
   */
  public record State(
      Status status,
      NodeSpecs specs,
      NodeMetrics metrics,
      Long firstSeen,
      Long lastSeen,
      boolean cordoned,
      String offlineReason,
      double reputation,
      long agreed,
      long disagreed,
      boolean quarantined,
      String quarantineReason,
      List<String> recentVerdicts)
      implements CborSerializable {

    static final int RECENT_VERDICTS = 64;

    public static final State EMPTY =
        new State(
            Status.UNKNOWN,
            null,
            null,
            null,
            null,
            false,
            null,
            Double.NaN,
            0,
            0,
            false,
            null,
            List.of());

    public State {
      recentVerdicts = recentVerdicts == null ? List.of() : List.copyOf(recentVerdicts);
    }

    /** The reputation, or {@code initial} for a node never judged. */
    public double reputation(double initial) {
      return Double.isNaN(reputation) ? initial : reputation;
    }

    private State with(
        Status st,
        boolean cord,
        String offline,
        double rep,
        long agr,
        long dis,
        boolean quar,
        String quarReason,
        List<String> recent) {
      return new State(
          st,
          specs,
          metrics,
          firstSeen,
          lastSeen,
          cord,
          offline,
          rep,
          agr,
          dis,
          quar,
          quarReason,
          recent);
    }

    State apply(Event event) {
      return switch (event) {
        case Registered e ->
            new State(
                Status.ONLINE,
                e.specs(),
                metrics,
                firstSeen == null ? e.at() : firstSeen,
                e.at(),
                cordoned,
                null,
                reputation,
                agreed,
                disagreed,
                quarantined,
                quarantineReason,
                recentVerdicts);
        case HeartbeatRecorded e ->
            new State(
                status == Status.OFFLINE ? Status.ONLINE : status,
                specs,
                e.metrics(),
                firstSeen,
                e.at(),
                cordoned,
                status == Status.OFFLINE ? null : offlineReason,
                reputation,
                agreed,
                disagreed,
                quarantined,
                quarantineReason,
                recentVerdicts);
        case WentOffline e ->
            with(
                Status.OFFLINE,
                cordoned,
                e.reason(),
                reputation,
                agreed,
                disagreed,
                quarantined,
                quarantineReason,
                recentVerdicts);
        case DrainStarted e ->
            with(
                Status.DRAINING,
                cordoned,
                offlineReason,
                reputation,
                agreed,
                disagreed,
                quarantined,
                quarantineReason,
                recentVerdicts);
        case Cordoned e ->
            with(
                status,
                true,
                offlineReason,
                reputation,
                agreed,
                disagreed,
                quarantined,
                quarantineReason,
                recentVerdicts);
        case Uncordoned e ->
            with(
                status == Status.DRAINING ? Status.ONLINE : status,
                false,
                offlineReason,
                reputation,
                agreed,
                disagreed,
                quarantined,
                quarantineReason,
                recentVerdicts);
        case VerdictRecorded e -> {
          List<String> recent = new ArrayList<>(recentVerdicts);
          recent.add(e.taskId());
          if (recent.size() > RECENT_VERDICTS) recent.remove(0);
          yield with(
              status,
              cordoned,
              offlineReason,
              e.reputation(),
              agreed + (e.agreed() ? 1 : 0),
              disagreed + (e.agreed() ? 0 : 1),
              quarantined,
              quarantineReason,
              recent);
        }
        case Quarantined e ->
            with(
                status,
                cordoned,
                offlineReason,
                reputation,
                agreed,
                disagreed,
                true,
                e.reason(),
                recentVerdicts);
        case Released e ->
            with(
                status,
                cordoned,
                offlineReason,
                e.reputation(),
                agreed,
                disagreed,
                false,
                null,
                recentVerdicts);
      };
    }
  }

  // ---------------------------------------------------------------- construction

  public static Behavior<Command> create(
      String nodeId, NodeSettings settings, NodeEffects effects, Clock clock) {
    return Behaviors.setup(context -> new NodeEntity(nodeId, settings, effects, clock, context));
  }

  public static Behavior<Command> create(String nodeId, NodeSettings settings, Clock clock) {
    return create(nodeId, settings, NodeEffects.NONE, clock);
  }

  public static Behavior<Command> create(String nodeId) {
    return create(nodeId, NodeSettings.defaults(), Clock.systemUTC());
  }

  /** The sharded entity definition; the caller adds settings before {@code init}. */
  public static Entity<Command, ShardingEnvelope<Command>> entity(
      NodeSettings settings, NodeEffects effects) {
    return Entity.of(
            TYPE_KEY, ctx -> create(ctx.getEntityId(), settings, effects, Clock.systemUTC()))
        .withStopMessage(new Stop());
  }

  private final String nodeId;
  private final NodeSettings settings;
  private final NodeEffects effects;
  private final Clock clock;
  private final ActorContext<Command> context;

  /**
   * The freshest heartbeat, newer than the journaled one; lost on restart by design (see the class
   * comment).
   */
  private NodeMetrics liveMetrics;

  private Long liveLastSeen;

  private NodeEntity(
      String nodeId,
      NodeSettings settings,
      NodeEffects effects,
      Clock clock,
      ActorContext<Command> context) {
    super(
        PersistenceId.of(TYPE_KEY.name(), nodeId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.nodeId = nodeId;
    this.settings = Objects.requireNonNull(settings, "settings");
    this.effects = effects == null ? NodeEffects.NONE : effects;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.context = context;
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
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return this::handle;
  }

  /**
   * A recovered entity (remember-entities restarts every known node with its shard) tells the
   * coordinators at once, so a node that never heartbeats again after a restart is still listed
   * (Offline) by GET /api/nodes.
   */
  @Override
  public org.apache.pekko.persistence.typed.javadsl.SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(
            org.apache.pekko.persistence.typed.RecoveryCompleted.instance(), this::publishStatus)
        .build();
  }

  private Effect<Event, State> handle(State s, Command command) {
    return switch (command) {
      case Register c -> onRegister(s, c);
      case Heartbeat c -> onHeartbeat(s, c);
      case MarkOffline c ->
          s.status() == Status.UNKNOWN || s.status() == Status.OFFLINE
              ? Effect().none()
              : Effect().persist(new WentOffline(c.reason(), now())).thenRun(this::publish);
      case Drain c -> onDrain(s, c);
      case Cordon c -> operatorFlag(s, c.replyTo(), true);
      case Uncordon c -> operatorFlag(s, c.replyTo(), false);
      case Release c -> onRelease(s, c);
      case RecordVerdict c -> onVerdict(s, c);
      case Get c -> Effect().reply(c.replyTo(), view(s));
      case Stop c -> Effect().stop();
    };
  }

  private Effect<Event, State> onRegister(State s, Register c) {
    if (c.specs() == null)
      return Effect().reply(c.replyTo(), StatusReply.error("a registration needs specs"));
    if (s.status() == Status.ONLINE && c.specs().equals(s.specs())) {
      liveLastSeen =
          now(); // the same node registering again (e.g. after a reconnect) only counts as a
      // sighting
      return Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    }
    return Effect()
        .persist(new Registered(c.specs(), now()))
        .thenRun(
            ns -> {
              forgetLive(ns);
              publish(ns);
            })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onHeartbeat(State s, Heartbeat c) {
    if (s.status() == Status.UNKNOWN) {
      context.getLog().debug("Node {}: heartbeat before registration ignored", nodeId);
      return c.replyTo() == null
          ? Effect().none()
          : Effect().reply(c.replyTo(), StatusReply.error("node " + nodeId + " is not registered"));
    }
    long now = now();
    boolean backOnline = s.status() == Status.OFFLINE;
    boolean due =
        s.lastSeen() == null
            || now - s.lastSeen() >= settings.heartbeatPersistInterval().toMillis();
    if (!backOnline && !due) {
      liveMetrics = c.metrics();
      liveLastSeen = now;
      publish(s);
      return c.replyTo() == null
          ? Effect().none()
          : Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    }
    var persisted =
        Effect()
            .persist(new HeartbeatRecorded(c.metrics(), now))
            .thenRun(
                ns -> {
                  forgetLive(ns);
                  publish(ns);
                });
    return c.replyTo() == null
        ? persisted
        : persisted.thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onDrain(State s, Drain c) {
    return switch (s.status()) {
      case UNKNOWN -> Effect().reply(c.replyTo(), StatusReply.error("unknown node " + nodeId));
      case OFFLINE ->
          Effect().reply(c.replyTo(), StatusReply.error("node " + nodeId + " is offline"));
      case DRAINING -> Effect().reply(c.replyTo(), StatusReply.success(view(s)));
      case ONLINE ->
          Effect()
              .persist(new DrainStarted(now()))
              .thenRun(
                  ns -> {
                    context
                        .getLog()
                        .info(
                            "Node {} is draining: it finishes its running jobs and takes no new ones",
                            nodeId);
                    publish(ns);
                  })
              .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
    };
  }

  private Effect<Event, State> operatorFlag(
      State s, ActorRef<StatusReply<NodeView>> replyTo, boolean cordon) {
    if (s.status() == Status.UNKNOWN)
      return Effect().reply(replyTo, StatusReply.error("unknown node " + nodeId));
    boolean unchanged = cordon ? s.cordoned() : !s.cordoned() && s.status() != Status.DRAINING;
    if (unchanged) return Effect().reply(replyTo, StatusReply.success(view(s)));
    Event event = cordon ? new Cordoned(now()) : new Uncordoned(now());
    return Effect()
        .persist(event)
        .thenRun(this::publish)
        .thenReply(replyTo, ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onRelease(State s, Release c) {
    if (s.status() == Status.UNKNOWN)
      return Effect().reply(c.replyTo(), StatusReply.error("unknown node " + nodeId));
    if (!s.quarantined()) return Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    return Effect()
        .persist(new Released(settings.reputation().initial(), now()))
        .thenRun(
            ns -> {
              context
                  .getLog()
                  .info(
                      "Node {} released from quarantine (reputation reset to {})",
                      nodeId,
                      settings.reputation().initial());
              publish(ns);
            })
        .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onVerdict(State s, RecordVerdict c) {
    if (s.recentVerdicts().contains(c.taskId())) {
      return c.replyTo() == null
          ? Effect().none()
          : Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    }
    NodeSettings.Reputation rules = settings.reputation();
    double before = s.reputation(rules.initial());
    double after = c.agreed() ? rules.afterAgreement(before) : rules.afterDisagreement(before);
    List<Event> events = new ArrayList<>();
    long now = now();
    events.add(new VerdictRecorded(c.taskId(), c.agreed(), after, now));
    String reason = null;
    if (!s.quarantined() && after < rules.quarantineBelow()) {
      reason =
          String.format(
              java.util.Locale.ROOT,
              "reputation %.3f fell below %.3f after its result for task %s disagreed with the quorum (%d agreed, %d disagreed)",
              after,
              rules.quarantineBelow(),
              c.taskId(),
              s.agreed(),
              s.disagreed() + 1);
      events.add(new Quarantined(reason, now));
    }
    String quarantineReason = reason;
    var persisted =
        Effect()
            .persist(events)
            .thenRun(
                (State ns) -> {
                  if (quarantineReason != null) {
                    context.getLog().warn("Node {} QUARANTINED: {}", nodeId, quarantineReason);
                    effects.quarantined(nodeId, quarantineReason);
                  }
                  publish(ns);
                });
    return c.replyTo() == null
        ? persisted
        : persisted.thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private void forgetLive(State ignored) {
    liveMetrics = null;
    liveLastSeen = null;
  }

  /**
   * The status alone (a recovery: the node's queue is withdrawn by its next heartbeat, as before).
   */
  private void publishStatus(State s) {
    if (s.status() == Status.UNKNOWN) return;
    try {
      NodeView v = view(s);
      effects.publish(
          new NodeStatus(
              nodeId,
              v.status(),
              v.cordoned(),
              v.quarantined(),
              v.reputation(),
              v.proven(),
              v.agreed(),
              v.disagreed(),
              now()));
    } catch (RuntimeException e) {
      context.getLog().warn("Node {}: publishing its status failed: {}", nodeId, e.toString());
    }
  }

  private void publish(State s) {
    if (s.status() == Status.UNKNOWN) return;
    try {
      NodeView v = view(s);
      effects.publish(
          new NodeStatus(
              nodeId,
              v.status(),
              v.cordoned(),
              v.quarantined(),
              v.reputation(),
              v.proven(),
              v.agreed(),
              v.disagreed(),
              now()));
      if (s.status() != Status.OFFLINE && (s.status() == Status.DRAINING || s.quarantined())) {
        effects.withdrawQueued(nodeId);
      }
    } catch (RuntimeException e) {
      context.getLog().warn("Node {}: publishing its status failed: {}", nodeId, e.toString());
    }
  }

  private long now() {
    return clock.millis();
  }

  private NodeView view(State s) {
    boolean fresher = liveLastSeen != null && (s.lastSeen() == null || liveLastSeen > s.lastSeen());
    return new NodeView(
        nodeId,
        statusName(s.status()),
        s.specs(),
        liveMetrics != null && fresher ? liveMetrics : s.metrics(),
        s.firstSeen(),
        fresher ? liveLastSeen : s.lastSeen(),
        s.cordoned(),
        s.status() == Status.ONLINE && !s.cordoned() && !s.quarantined(),
        s.offlineReason(),
        s.reputation(settings.reputation().initial()),
        s.agreed(),
        s.disagreed(),
        s.quarantined(),
        s.quarantineReason(),
        settings.reputation().proven(s.reputation(settings.reputation().initial()), s.agreed()));
  }

  static String statusName(Status status) {
    return switch (status) {
      case UNKNOWN -> NodeView.UNKNOWN;
      case ONLINE -> NodeView.ONLINE;
      case DRAINING -> NodeView.DRAINING;
      case OFFLINE -> NodeView.OFFLINE;
    };
  }
}
