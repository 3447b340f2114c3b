package dev.anchor.node;

import dev.anchor.CborSerializable;
import java.time.Clock;
import java.time.Duration;
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
 * <p>Heartbeats arrive every few seconds from every node, so journaling each one would make the journal the busiest
 * thing in the system for information that is stale seconds later. Instead the latest metrics and last-seen time
 * are kept in memory and shown by {@link Get}; a {@link HeartbeatRecorded} is journaled only when the last journaled
 * sighting is older than {@link NodeSettings#heartbeatPersistInterval()} (default 60 s) or when the heartbeat brings
 * an Offline node back. After a restart the view is therefore at most that interval stale until the next heartbeat.
 * Snapshots every 100 events, keeping two and deleting the events they cover, bound the journal of a node that runs
 * for months.
 *
 * <p>Status: Online after {@link Register}; {@link Drain} → Draining (finishes its work, takes no new);
 * {@link MarkOffline} → Offline; a heartbeat or a new registration brings an Offline node back Online, and a new
 * registration also ends Draining (the node restarted). {@link Cordon} is an operator flag kept across all of this
 * until {@link Uncordon}. Operator commands on a never-registered node answer an error.
 */
public final class NodeEntity extends EventSourcedBehavior<NodeEntity.Command, NodeEntity.Event, NodeEntity.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Node");

  // ---------------------------------------------------------------- commands

  public sealed interface Command extends CborSerializable {}

  /** The node (re)joined with these specs; answers its view once recorded. */
  public record Register(NodeSpecs specs, ActorRef<StatusReply<NodeView>> replyTo) implements Command {}

  /**
   * The node is alive with this load.
   *
   * @param replyTo null for fire-and-forget; otherwise answers the view, or an error if the node never registered
   *                (so the worker knows to register)
   */
  public record Heartbeat(NodeMetrics metrics, ActorRef<StatusReply<NodeView>> replyTo) implements Command {
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

  // ---------------------------------------------------------------- state

  public enum Status { UNKNOWN, ONLINE, DRAINING, OFFLINE }

  /**
   * @param lastSeen   the last journaled sighting; fresher sightings live in memory only
   * @param reputation kept for result cross-checking (consensus), which does not exist yet
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
      long disagreed)
      implements CborSerializable {

    public static final State EMPTY = new State(Status.UNKNOWN, null, null, null, null, false, null, 1.0, 0, 0);

    State apply(Event event) {
      return switch (event) {
        case Registered e -> new State(Status.ONLINE, e.specs(), metrics, firstSeen == null ? e.at() : firstSeen,
            e.at(), cordoned, null, reputation, agreed, disagreed);
        case HeartbeatRecorded e -> new State(status == Status.OFFLINE ? Status.ONLINE : status, specs, e.metrics(),
            firstSeen, e.at(), cordoned, status == Status.OFFLINE ? null : offlineReason, reputation, agreed,
            disagreed);
        case WentOffline e -> new State(Status.OFFLINE, specs, metrics, firstSeen, lastSeen, cordoned, e.reason(),
            reputation, agreed, disagreed);
        case DrainStarted e -> new State(Status.DRAINING, specs, metrics, firstSeen, lastSeen, cordoned,
            offlineReason, reputation, agreed, disagreed);
        case Cordoned e -> new State(status, specs, metrics, firstSeen, lastSeen, true, offlineReason, reputation,
            agreed, disagreed);
        case Uncordoned e -> new State(status, specs, metrics, firstSeen, lastSeen, false, offlineReason,
            reputation, agreed, disagreed);
      };
    }
  }

  // ---------------------------------------------------------------- construction

  public static Behavior<Command> create(String nodeId, NodeSettings settings, Clock clock) {
    return Behaviors.setup(context -> new NodeEntity(nodeId, settings, clock, context));
  }

  public static Behavior<Command> create(String nodeId) {
    return create(nodeId, NodeSettings.defaults(), Clock.systemUTC());
  }

  /** The sharded entity definition; the caller adds settings before {@code init}. */
  public static Entity<Command, ShardingEnvelope<Command>> entity(NodeSettings settings) {
    return Entity.of(TYPE_KEY, ctx -> create(ctx.getEntityId(), settings, Clock.systemUTC()))
        .withStopMessage(new Stop());
  }

  private final String nodeId;
  private final NodeSettings settings;
  private final Clock clock;
  private final ActorContext<Command> context;
  /** The freshest heartbeat, newer than the journaled one; lost on restart by design (see the class comment). */
  private NodeMetrics liveMetrics;
  private Long liveLastSeen;

  private NodeEntity(String nodeId, NodeSettings settings, Clock clock, ActorContext<Command> context) {
    super(PersistenceId.of(TYPE_KEY.name(), nodeId),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.nodeId = nodeId;
    this.settings = Objects.requireNonNull(settings, "settings");
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

  private Effect<Event, State> handle(State s, Command command) {
    return switch (command) {
      case Register c -> onRegister(s, c);
      case Heartbeat c -> onHeartbeat(s, c);
      case MarkOffline c -> s.status() == Status.UNKNOWN || s.status() == Status.OFFLINE
          ? Effect().none()
          : Effect().persist(new WentOffline(c.reason(), now()));
      case Drain c -> onDrain(s, c);
      case Cordon c -> operatorFlag(s, c.replyTo(), true);
      case Uncordon c -> operatorFlag(s, c.replyTo(), false);
      case Get c -> Effect().reply(c.replyTo(), view(s));
      case Stop c -> Effect().stop();
    };
  }

  private Effect<Event, State> onRegister(State s, Register c) {
    if (c.specs() == null) return Effect().reply(c.replyTo(), StatusReply.error("a registration needs specs"));
    if (s.status() == Status.ONLINE && c.specs().equals(s.specs())) {
      liveLastSeen = now(); // the same node registering again (e.g. after a reconnect) only counts as a sighting
      return Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    }
    return Effect().persist(new Registered(c.specs(), now()))
        .thenRun(this::forgetLive)
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
    boolean due = s.lastSeen() == null || now - s.lastSeen() >= settings.heartbeatPersistInterval().toMillis();
    if (!backOnline && !due) {
      liveMetrics = c.metrics();
      liveLastSeen = now;
      return c.replyTo() == null ? Effect().none() : Effect().reply(c.replyTo(), StatusReply.success(view(s)));
    }
    var persisted = Effect().persist(new HeartbeatRecorded(c.metrics(), now)).thenRun(this::forgetLive);
    return c.replyTo() == null
        ? persisted
        : persisted.thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
  }

  private Effect<Event, State> onDrain(State s, Drain c) {
    return switch (s.status()) {
      case UNKNOWN -> Effect().reply(c.replyTo(), StatusReply.error("unknown node " + nodeId));
      case OFFLINE -> Effect().reply(c.replyTo(), StatusReply.error("node " + nodeId + " is offline"));
      case DRAINING -> Effect().reply(c.replyTo(), StatusReply.success(view(s)));
      case ONLINE -> Effect().persist(new DrainStarted(now()))
          .thenReply(c.replyTo(), ns -> StatusReply.success(view(ns)));
    };
  }

  private Effect<Event, State> operatorFlag(State s, ActorRef<StatusReply<NodeView>> replyTo, boolean cordon) {
    if (s.status() == Status.UNKNOWN) return Effect().reply(replyTo, StatusReply.error("unknown node " + nodeId));
    if (s.cordoned() == cordon) return Effect().reply(replyTo, StatusReply.success(view(s)));
    Event event = cordon ? new Cordoned(now()) : new Uncordoned(now());
    return Effect().persist(event).thenReply(replyTo, ns -> StatusReply.success(view(ns)));
  }

  private void forgetLive() {
    liveMetrics = null;
    liveLastSeen = null;
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
        s.status() == Status.ONLINE && !s.cordoned(),
        s.offlineReason(),
        s.reputation(),
        s.agreed(),
        s.disagreed());
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
