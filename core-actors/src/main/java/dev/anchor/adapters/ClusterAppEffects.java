package dev.anchor.adapters;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.app.AppEffects;
import dev.anchor.app.AppOrder;
import dev.anchor.app.AppSpec;
import dev.anchor.app.AppView;
import dev.anchor.feed.ChangeFeed;
import dev.anchor.node.NodeStatus;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.scheduling.NodeRegistry;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.slf4j.LoggerFactory;

/**
 * A coordinator's {@link AppEffects}: node selection over its {@link NodeRegistry} with the task
 * rules (up and heard from recently, not draining, cordoned or quarantined, runtime {@code native}
 * offered) plus what apps hold: a node qualifies only when its RAM minus the RAM of the apps placed
 * on it covers the app's {@code ramMb} (RAM is reserved), and it has at least the app's {@code cpu}
 * cores (cores are shared: the apps' cores add to the node's score instead of excluding it). Lowest
 * score wins: (jobs running + apps) / capacity + CPU% / 200 + cores of its apps (with this one) /
 * cores + 0.25 × (1 − reputation). Orders go to the workers on the {@code anchor-app-orders} topic.
 *
 * <p>What apps hold is this coordinator's memory, rebuilt as app entities recover ({@link
 * #holding}); with several coordinators each one accounts only for the apps whose shards it hosts.
 */
public final class ClusterAppEffects implements AppEffects {
  /** A node unknown to the registry this long after the coordinator started is taken as gone. */
  static final long UNKNOWN_NODE_GRACE_MS = 30_000;

  private static final long STALE_HEARTBEAT_MS = 15_000;

  private record Held(String nodeId, long ramMb, double cpu) {}

  private final NodeRegistry registry;
  private final ActorRef<Topic.Command<AppOrder>> orders;
  private final LongSupplier clock;
  private final long startedAt;
  private final Map<String, Held> held = new ConcurrentHashMap<>();
  private static final ObjectMapper JSON = new ObjectMapper();
  private volatile ChangeFeed feed;

  public ClusterAppEffects(
      NodeRegistry registry, ActorRef<Topic.Command<AppOrder>> orders, LongSupplier clock) {
    this.registry = registry;
    this.orders = orders;
    this.clock = clock;
    this.startedAt = clock.getAsLong();
  }

  @Override
  public Placement place(String appId, AppSpec spec, Set<String> excluded) {
    long now = clock.getAsLong();
    NodeHeartbeat best = null;
    double bestScore = Double.MAX_VALUE;
    int up = 0, runtimeOk = 0, ramOk = 0;
    for (NodeHeartbeat n : registry.all()) {
      if (!registry.isAlive(n.nodeId()) || now - n.atEpochMs() > STALE_HEARTBEAT_MS) continue;
      if (n.draining() || excluded.contains(n.nodeId())) continue;
      NodeStatus st = registry.status(n.nodeId()).orElse(null);
      if (st != null && (!st.takesWork() || st.cordoned() || st.quarantined())) continue;
      up++;
      if (!n.runtimes().contains("native")) continue;
      runtimeOk++;
      long ramHeld = 0;
      double cpuHeld = 0;
      int apps = 0;
      for (Map.Entry<String, Held> e : held.entrySet()) {
        if (e.getKey().equals(appId) || !e.getValue().nodeId().equals(n.nodeId())) continue;
        ramHeld += e.getValue().ramMb();
        cpuHeld += e.getValue().cpu();
        apps++;
      }
      if (n.ramMb() - ramHeld < spec.ramMb()) continue;
      ramOk++;
      if (n.cpuCores() < spec.cpu() - 1e-9) continue;
      double score =
          (n.runningTasks() + apps) / (double) Math.max(1, n.capacity())
              + n.cpuUsage() / 200.0
              + (cpuHeld + spec.cpu()) / Math.max(1, n.cpuCores())
              + 0.25 * (1 - registry.reputation(n.nodeId()));
      if (best == null
          || score < bestScore
          || (score == bestScore && n.nodeId().compareTo(best.nodeId()) < 0)) {
        best = n;
        bestScore = score;
      }
    }
    if (best != null) return new Placement.On(best.nodeId());
    if (up == 0) return new Placement.Nowhere("no worker node is available");
    if (runtimeOk == 0)
      return new Placement.Nowhere("no node offers the native runtime (node and npm)");
    if (ramOk == 0)
      return new Placement.Nowhere("no node has " + spec.ramMb() + " MB of RAM free for apps");
    return new Placement.Nowhere("no node has " + spec.cpu() + " cores");
  }

  @Override
  public void holding(String appId, String nodeId, AppSpec spec) {
    if (nodeId == null || spec == null) held.remove(appId);
    else held.put(appId, new Held(nodeId, spec.ramMb(), spec.cpu()));
  }

  @Override
  public boolean nodeGone(String nodeId) {
    if (registry.known(nodeId)) return !registry.isAlive(nodeId);
    return clock.getAsLong() - startedAt > UNKNOWN_NODE_GRACE_MS;
  }

  @Override
  public boolean nodeDraining(String nodeId) {
    boolean flagged =
        registry.all().stream().anyMatch(n -> n.nodeId().equals(nodeId) && n.draining());
    return flagged
        || registry.status(nodeId).map(st -> !st.takesWork() && !st.quarantined()).orElse(false);
  }

  /**
   * Announces app changes on the change feed as kind {@code app}, events named {@code App<Event>}.
   */
  public ClusterAppEffects withFeed(ChangeFeed feed) {
    this.feed = feed;
    return this;
  }

  @Override
  public void changed(String event, AppView view) {
    ChangeFeed f = feed;
    if (f == null) return;
    try {
      f.publish("app", view.clusterId(), "App" + event, JSON.writeValueAsString(view));
    } catch (Exception e) {
      LoggerFactory.getLogger(ClusterAppEffects.class)
          .warn("change feed publish failed for app {}: {}", view.clusterId(), e.toString());
    }
  }

  @Override
  public void send(AppOrder order) {
    orders.tell(Topic.publish(order));
  }
}
