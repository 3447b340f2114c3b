package dev.anchor.scheduling;

import dev.anchor.node.NodeStatus;
import dev.anchor.task.Runtimes;
import dev.anchor.task.TaskSpec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * This coordinator's picture of the worker nodes: their last heartbeat, whether their cluster
 * member is up, and their operator flags and reputation ({@link NodeStatus}, published by the node
 * entities). Node selection reads it without messaging, so dispatch costs no round trip.
 *
 * <p>Selection, in this order:
 *
 * <ol>
 *   <li>Eligible: up, heard from recently, not draining, cordoned or quarantined, not already
 *       holding a replica of the task, offers the task's runtime, has at least {@code minRam} GB of
 *       RAM and a GPU when one is required.
 *   <li>Score (lower wins): load = (jobs running + jobs handed to it since its last heartbeat) /
 *       capacity + CPU usage / 200, plus {@value #REPUTATION_WEIGHT} × (1 − reputation). A fully
 *       loaded node scores ~1 more than an idle one, so reputation decides between similarly loaded
 *       nodes and never outweighs a free node.
 *   <li>Replicas: a node on a host that already holds a replica of the task is taken only when no
 *       other host is eligible (several workers on one machine are not independent witnesses).
 * </ol>
 */
public final class NodeRegistry {
  private final Map<String, NodeHeartbeat> nodes = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> assignedSinceHeartbeat = new ConcurrentHashMap<>();

  private final Set<String> upAddresses = ConcurrentHashMap.newKeySet();

  /** Members the failure detector lost and has not heard from since. */
  private final Set<String> unreachable = ConcurrentHashMap.newKeySet();

  private final Set<String> cordoned = ConcurrentHashMap.newKeySet();
  private final Map<String, NodeStatus> statuses = new ConcurrentHashMap<>();
  static final double REPUTATION_WEIGHT = 0.25;
  private final long staleAfterMs;
  private final int prefetch;

  public NodeRegistry(long staleAfterMs) {
    this(staleAfterMs, 2);
  }

  /**
   * @param prefetch jobs a node's own stream may hold beyond its capacity; the rest wait in the
   *     shared pools, where any eligible node can take them
   */
  public NodeRegistry(long staleAfterMs, int prefetch) {
    this.staleAfterMs = staleAfterMs;
    this.prefetch = Math.max(0, prefetch);
  }

  public void heartbeat(NodeHeartbeat hb) {
    NodeHeartbeat prev = nodes.put(hb.nodeId(), hb);
    if (prev == null || prev.atEpochMs() <= hb.atEpochMs()) {
      assignedSinceHeartbeat.computeIfAbsent(hb.nodeId(), k -> new AtomicInteger()).set(0);
    }
  }

  /**
   * How many jobs the node's own streams may hold (waiting, running, or ended and not acknowledged)
   * before more wait in the shared pools: its capacity plus the prefetch for a first attempt, its
   * capacity alone for a job run before (a retry, a job its node was lost with), which goes onto a
   * node only where a slot is free now and otherwise to its pool's {@code again} stream, which
   * every free slot reads first. The queue counts what the streams hold ({@link
   * dev.anchor.queue.JobQueue#place}), not the heartbeats, which lag by up to their interval. 0 for
   * a node never heard from.
   */
  public int placeLimit(String nodeId, boolean runBefore) {
    NodeHeartbeat hb = nodes.get(nodeId);
    if (hb == null) return 0;
    int capacity = Math.max(1, hb.capacity());
    return runBefore ? capacity : capacity + prefetch;
  }

  public void memberUp(String address) {
    if (!unreachable.contains(address)) upAddresses.add(address);
  }

  /**
   * The member left or was downed: returns the ids of the nodes that ran there. They stay listed
   * (as not alive) until a heartbeat from a new incarnation replaces them.
   */
  public List<String> memberRemoved(String address) {
    upAddresses.remove(address);
    unreachable.remove(address);
    return nodesAt(address);
  }

  /**
   * The failure detector lost the member: its nodes are neither chosen nor alive (their jobs are
   * handed on) until it is reachable again. Returns their ids.
   */
  public List<String> memberUnreachable(String address) {
    upAddresses.remove(address);
    unreachable.add(address);
    return nodesAt(address);
  }

  /** The member answers again after {@link #memberUnreachable}: its nodes take work again. */
  public void memberReachable(String address) {
    if (unreachable.remove(address)) upAddresses.add(address);
  }

  private List<String> nodesAt(String address) {
    List<String> at = new ArrayList<>();
    for (NodeHeartbeat hb : nodes.values()) {
      if (hb.address().equals(address)) at.add(hb.nodeId());
    }
    return at;
  }

  public void setCordoned(String nodeId, boolean on) {
    if (on) cordoned.add(nodeId);
    else cordoned.remove(nodeId);
  }

  /** The node entity's latest word on flags and reputation (newer than what is known wins). */
  public void status(NodeStatus status) {
    statuses.merge(status.nodeId(), status, (old, neu) -> neu.at() >= old.at() ? neu : old);
  }

  public Optional<NodeStatus> status(String nodeId) {
    return Optional.ofNullable(statuses.get(nodeId));
  }

  /**
   * Trusted alone under adaptive verification (see {@link NodeStatus#proven()}); unknown nodes are
   * not.
   */
  public boolean isProven(String nodeId) {
    NodeStatus st = statuses.get(nodeId);
    return st != null && st.proven() && !st.quarantined();
  }

  public String hostOf(String nodeId) {
    NodeHeartbeat hb = nodes.get(nodeId);
    return hb == null ? null : hb.host();
  }

  public boolean isAlive(String nodeId) {
    NodeHeartbeat hb = nodes.get(nodeId);
    return hb != null && upAddresses.contains(hb.address());
  }

  public boolean known(String nodeId) {
    return nodes.containsKey(nodeId);
  }

  public Collection<NodeHeartbeat> all() {
    return nodes.values();
  }

  /** The node entities' latest statuses, also of nodes not heard from since this JVM started. */
  public Collection<NodeStatus> statuses() {
    return statuses.values();
  }

  public sealed interface Choice {
    record Chosen(String nodeId) implements Choice {}

    record None(String reason) implements Choice {}
  }

  public Choice choose(TaskSpec spec, Set<String> excluded, long nowMs) {
    return choose(spec, excluded, Set.of(), nowMs);
  }

  /**
   * @param excluded nodes that must not be chosen (they already hold a replica of the task)
   * @param avoidHosts hosts taken only when no eligible node runs elsewhere
   */
  public Choice choose(TaskSpec spec, Set<String> excluded, Set<String> avoidHosts, long nowMs) {
    return choose(spec, excluded, avoidHosts, nowMs, true);
  }

  /** Could a node other than {@code nodeId} take the task now? (nothing is reserved) */
  public boolean hasOtherEligible(TaskSpec spec, String nodeId, long nowMs) {
    return choose(spec, Set.of(nodeId), Set.of(), nowMs, false) instanceof Choice.Chosen;
  }

  private Choice choose(
      TaskSpec spec, Set<String> excluded, Set<String> avoidHosts, long nowMs, boolean reserve) {
    String runtime = Runtimes.canonical(spec.runtime());
    double minRamMb = spec.requirements().minRamGb() * 1024;
    NodeHeartbeat best = null;
    double bestLoad = Double.MAX_VALUE;
    boolean bestOnAvoidedHost = true;
    int up = 0, runtimeOk = 0, ramOk = 0, gpuOk = 0, distinctLeft = 0;
    for (NodeHeartbeat n : nodes.values()) {
      if (!upAddresses.contains(n.address()) || nowMs - n.atEpochMs() > staleAfterMs) continue;
      if (n.draining() || cordoned.contains(n.nodeId()) || !takesWork(n.nodeId())) continue;
      if (excluded.contains(n.nodeId())) {
        distinctLeft++;
        continue;
      }
      up++;
      if (!n.runtimes().contains(runtime)) continue;
      runtimeOk++;
      if (n.ramMb() < minRamMb) continue;
      ramOk++;
      if (spec.requirements().gpuRequired() && !n.gpu()) continue;
      gpuOk++;
      int assigned =
          assignedSinceHeartbeat.computeIfAbsent(n.nodeId(), k -> new AtomicInteger()).get();
      double load =
          (n.runningTasks() + assigned) / (double) Math.max(1, n.capacity())
              + n.cpuUsage() / 200.0
              + REPUTATION_WEIGHT * (1 - reputation(n.nodeId()));
      boolean avoided = avoidHosts.contains(n.host());
      boolean better =
          best == null
              || (bestOnAvoidedHost && !avoided)
              || (bestOnAvoidedHost == avoided
                  && (load < bestLoad
                      || (load == bestLoad && n.nodeId().compareTo(best.nodeId()) < 0)));
      if (better) {
        best = n;
        bestLoad = load;
        bestOnAvoidedHost = avoided;
      }
    }
    if (best != null) {
      if (!reserve) return new Choice.Chosen(best.nodeId());
      assignedSinceHeartbeat
          .computeIfAbsent(best.nodeId(), k -> new AtomicInteger())
          .incrementAndGet();
      return new Choice.Chosen(best.nodeId());
    }
    String reason;
    if (up == 0 && distinctLeft > 0) {
      reason =
          "every available node already holds a replica of this task ("
              + excluded.size()
              + "); verification needs more distinct nodes";
    } else if (up == 0) reason = "no worker node is available";
    else if (runtimeOk == 0) reason = "no node offers runtime '" + runtime + "'";
    else if (ramOk == 0)
      reason = "no node has " + spec.requirements().minRamGb() + " GB of RAM (minRam)";
    else reason = "no node has a GPU (gpuRequired)";
    return new Choice.None(reason);
  }

  private boolean takesWork(String nodeId) {
    NodeStatus st = statuses.get(nodeId);
    return st == null || (st.takesWork() && !st.cordoned());
  }

  /** The node's reputation as last published; a node not judged yet counts as neutral (0.5). */
  public double reputation(String nodeId) {
    NodeStatus st = statuses.get(nodeId);
    return st == null ? 0.5 : st.reputation();
  }
}
