package dev.anchor.scheduling;

import dev.anchor.task.TaskSpec;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * This coordinator's picture of the worker nodes: their last heartbeat and whether their cluster member is up.
 * Node selection reads it without messaging, so dispatch costs no round trip.
 *
 * <p>Selection: a node is eligible when it is up, not draining or cordoned, offers the task's runtime, has at least
 * {@code minRam} GB of RAM and a GPU when one is required. Among eligible nodes the least loaded wins, where load is
 * (jobs running + jobs handed to it since its last heartbeat) / its capacity, plus half its CPU usage as a fraction.
 */
public final class NodeRegistry {
  private final Map<String, NodeHeartbeat> nodes = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> assignedSinceHeartbeat = new ConcurrentHashMap<>();
  private final Set<String> upAddresses = ConcurrentHashMap.newKeySet();
  private final Set<String> cordoned = ConcurrentHashMap.newKeySet();
  private final long staleAfterMs;

  public NodeRegistry(long staleAfterMs) {
    this.staleAfterMs = staleAfterMs;
  }

  public void heartbeat(NodeHeartbeat hb) {
    NodeHeartbeat prev = nodes.put(hb.nodeId(), hb);
    if (prev == null || prev.atEpochMs() <= hb.atEpochMs()) {
      assignedSinceHeartbeat.computeIfAbsent(hb.nodeId(), k -> new AtomicInteger()).set(0);
    }
  }

  public void memberUp(String address) {
    upAddresses.add(address);
  }

  /**
   * The member left or was downed: returns the ids of the nodes that ran there. They stay listed (as not alive)
   * until a heartbeat from a new incarnation replaces them.
   */
  public List<String> memberRemoved(String address) {
    upAddresses.remove(address);
    List<String> gone = new ArrayList<>();
    for (NodeHeartbeat hb : nodes.values()) {
      if (hb.address().equals(address)) gone.add(hb.nodeId());
    }
    return gone;
  }

  public void setCordoned(String nodeId, boolean on) {
    if (on) cordoned.add(nodeId);
    else cordoned.remove(nodeId);
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

  public sealed interface Choice {
    record Chosen(String nodeId) implements Choice {}

    record None(String reason) implements Choice {}
  }

  public Choice choose(TaskSpec spec, Set<String> excluded, long nowMs) {
    String runtime = canonicalRuntime(spec.runtime());
    double minRamMb = spec.requirements().minRamGb() * 1024;
    NodeHeartbeat best = null;
    double bestLoad = Double.MAX_VALUE;
    int up = 0, runtimeOk = 0, ramOk = 0, gpuOk = 0;
    for (NodeHeartbeat n : nodes.values()) {
      if (!upAddresses.contains(n.address()) || nowMs - n.atEpochMs() > staleAfterMs) continue;
      if (n.draining() || cordoned.contains(n.nodeId()) || excluded.contains(n.nodeId())) continue;
      up++;
      if (!n.runtimes().contains(runtime)) continue;
      runtimeOk++;
      if (n.ramMb() < minRamMb) continue;
      ramOk++;
      if (spec.requirements().gpuRequired() && !n.gpu()) continue;
      gpuOk++;
      int assigned = assignedSinceHeartbeat.computeIfAbsent(n.nodeId(), k -> new AtomicInteger()).get();
      double load = (n.runningTasks() + assigned) / (double) Math.max(1, n.capacity()) + n.cpuUsage() / 200.0;
      if (load < bestLoad || (load == bestLoad && best != null && n.nodeId().compareTo(best.nodeId()) < 0)) {
        best = n;
        bestLoad = load;
      }
    }
    if (best != null) {
      assignedSinceHeartbeat.computeIfAbsent(best.nodeId(), k -> new AtomicInteger()).incrementAndGet();
      return new Choice.Chosen(best.nodeId());
    }
    String reason;
    if (up == 0) reason = "no worker node is available";
    else if (runtimeOk == 0) reason = "no node offers runtime '" + runtime + "'";
    else if (ramOk == 0) reason = "no node has " + spec.requirements().minRamGb() + " GB of RAM (minRam)";
    else reason = "no node has a GPU (gpuRequired)";
    return new Choice.None(reason);
  }

  /** Runtime names as workers advertise them: isolated-vm is the reference system's name for the JS sandbox. */
  public static String canonicalRuntime(String runtime) {
    if (runtime == null) return "js";
    String r = runtime.toLowerCase(Locale.ROOT);
    return r.equals("isolated-vm") || r.equals("javascript") ? "js" : r;
  }
}
