package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeStatus;
import dev.anchor.node.NodeView;
import dev.anchor.scheduling.NodeHeartbeat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * GET /api/nodes[?status=Online|Draining|Offline]: the worker machines this coordinator knows. One
 * node's view and the operator's changes to it are {@link OperatorRoutes}.
 */
final class NodeRoutes {
  private final NodeDirectory nodes;
  private final ClusterSharding sharding;

  NodeRoutes(ActorSystem<?> system, NodeDirectory nodes) {
    this.nodes = nodes;
    this.sharding = ClusterSharding.get(system);
  }

  /** Matches /api/nodes exactly, so /api/nodes/{id}/… reaches the operator and screen routes. */
  Route route() {
    return path(
        segment("api").slash("nodes"),
        () ->
            get(
                () ->
                    parameterOptional(
                        "status",
                        status -> {
                          String wanted = status.map(NodeJson::statusFilter).orElse(null);
                          return completeWithFuture(nodes(wanted).thenApply(Json::ok));
                        })));
  }

  /**
   * Every node this coordinator knows: those heard from since it started, and those only their
   * entity remembers (recovered after a restart, not heard from since: Offline, with the specs and
   * metrics their entity last recorded), as GET /api/nodes/{id} finds them. {@code status} (Online,
   * Draining, Offline) keeps only those.
   */
  private CompletionStage<List<Map<String, Object>>> nodes(String wantedStatus) {
    List<Map<String, Object>> heardFrom = nodes();
    java.util.Set<String> heard = new java.util.HashSet<>();
    for (Map<String, Object> n : heardFrom) heard.add((String) n.get("nodeId"));
    List<CompletableFuture<Map<String, Object>>> remembered = new ArrayList<>();
    for (NodeStatus st : nodes.statuses()) {
      if (heard.contains(st.nodeId())) continue;
      remembered.add(
          sharding
              .entityRefFor(NodeEntity.TYPE_KEY, st.nodeId())
              .ask(NodeEntity.Get::new, Duration.ofSeconds(3))
              .toCompletableFuture()
              .handle((v, e) -> offline(st, e == null ? v : null)));
    }
    return CompletableFuture.allOf(remembered.toArray(CompletableFuture[]::new))
        .thenApply(
            x -> {
              List<Map<String, Object>> out = new ArrayList<>(heardFrom);
              for (CompletableFuture<Map<String, Object>> f : remembered) out.add(f.join());
              if (wantedStatus != null) out.removeIf(n -> !wantedStatus.equals(n.get("status")));
              out.sort(java.util.Comparator.comparing(m -> (String) m.get("nodeId")));
              return out;
            });
  }

  /**
   * A node no heartbeat came from since this coordinator started, from its entity's record (view
   * null: none).
   */
  private static Map<String, Object> offline(NodeStatus st, NodeView v) {
    Map<String, Object> n = new java.util.LinkedHashMap<>();
    n.put("nodeId", st.nodeId());
    n.put("status", NodeView.OFFLINE);
    n.put("cordoned", st.cordoned());
    n.put("quarantined", st.quarantined());
    n.put("acceptsTasks", false);
    n.put("reputation", NodeJson.reputation(st.reputation()));
    n.put("proven", st.proven());
    n.put("agreed", st.agreed());
    n.put("disagreed", st.disagreed());
    Map<String, Object> specs = new java.util.LinkedHashMap<>();
    if (v != null && v.specs() != null) {
      specs.put("cpuCores", v.specs().cpuCores());
      specs.put("ramMb", v.specs().ramMb());
      specs.put("gpu", v.specs().gpu());
      specs.put("gpuModel", v.specs().gpuModel());
      specs.put("runtimes", v.specs().runtimes());
      specs.put("host", v.specs().host());
    }
    Map<String, Object> metrics = new java.util.LinkedHashMap<>();
    if (v != null && v.metrics() != null) {
      metrics.put("cpuUsage", v.metrics().cpuUsage());
      metrics.put("ramUsage", v.metrics().ramUsage());
      metrics.put("uptime", v.metrics().uptimeS());
      metrics.put("runningTasks", 0);
    }
    n.put("specs", specs);
    n.put("metrics", metrics);
    n.put("lastSeen", v == null ? null : v.lastSeen());
    return n;
  }

  /** The nodes heard from since this coordinator started (their heartbeats). */
  private List<Map<String, Object>> nodes() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (NodeHeartbeat hb : nodes.heardFrom()) {
      Map<String, Object> specs = new java.util.LinkedHashMap<>();
      specs.put("cpuCores", hb.cpuCores());
      specs.put("ramMb", hb.ramMb());
      specs.put("gpu", hb.gpu());
      specs.put("gpuModel", hb.gpuModel());
      specs.put("runtimes", hb.runtimes());
      specs.put("host", hb.host());
      specs.put("capacity", hb.capacity());
      // absent, not zero or null, when the node has no GPU or predates the field
      if (hb.gpuMemoryMb() != null) specs.put("gpuMemoryMb", hb.gpuMemoryMb());
      if (hb.capture() != null) specs.put("capture", hb.capture());
      if (hb.captureReason() != null) specs.put("captureReason", hb.captureReason());
      Map<String, Object> metrics = new java.util.LinkedHashMap<>();
      metrics.put("cpuUsage", hb.cpuUsage());
      metrics.put("ramUsage", hb.ramUsage());
      metrics.put("uptime", hb.uptimeS());
      metrics.put("runningTasks", hb.runningTasks());
      if (hb.gpuUtilization() != null) metrics.put("gpuUtilization", hb.gpuUtilization());
      if (hb.gpuMemoryUsedMb() != null) metrics.put("gpuMemoryUsedMb", hb.gpuMemoryUsedMb());
      metrics.put("hasDocker", hb.hasDocker());
      Map<String, Object> n = new java.util.LinkedHashMap<>();
      Optional<NodeStatus> st = nodes.status(hb.nodeId());
      boolean alive = nodes.isAlive(hb.nodeId());
      String status =
          !alive
              ? "Offline"
              : hb.draining() ? "Draining" : st.map(NodeStatus::status).orElse("Online");
      n.put("nodeId", hb.nodeId());
      n.put("status", status);
      n.put("cordoned", st.map(NodeStatus::cordoned).orElse(false));
      n.put("quarantined", st.map(NodeStatus::quarantined).orElse(false));
      n.put(
          "acceptsTasks",
          alive
              && "Online".equals(status)
              && st.map(x -> x.takesWork() && !x.cordoned()).orElse(true));
      n.put("reputation", st.map(x -> NodeJson.reputation(x.reputation())).orElse(null));
      n.put("proven", st.map(NodeStatus::proven).orElse(false));
      n.put("agreed", st.map(NodeStatus::agreed).orElse(0L));
      n.put("disagreed", st.map(NodeStatus::disagreed).orElse(0L));
      n.put("specs", specs);
      n.put("metrics", metrics);
      n.put("lastSeen", hb.atEpochMs());
      out.add(n);
    }
    return out;
  }
}
