package dev.anchor.ops;

import dev.anchor.node.NodeView;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/** Nodes in a map, with the rules of NodeEntity that operators see; records every call. */
final class FakeNodeOperations implements NodeOperations {
  final Map<String, NodeView> nodes = new ConcurrentHashMap<>();
  final List<String> calls = Collections.synchronizedList(new ArrayList<>());
  volatile boolean clusterDown;

  static NodeView online(String nodeId) {
    return new NodeView(
        nodeId,
        NodeView.ONLINE,
        null,
        null,
        1L,
        2L,
        false,
        true,
        null,
        0.9,
        7,
        1,
        false,
        null,
        true);
  }

  static NodeView unknown(String nodeId) {
    return new NodeView(
        nodeId,
        NodeView.UNKNOWN,
        null,
        null,
        null,
        null,
        false,
        false,
        null,
        0.5,
        0,
        0,
        false,
        null,
        false);
  }

  void add(NodeView v) {
    nodes.put(v.nodeId(), v);
  }

  @Override
  public CompletionStage<NodeView> drain(String nodeId) {
    return change(
        "drain",
        nodeId,
        v -> with(v, NodeView.DRAINING, v.cordoned(), v.quarantined(), v.quarantineReason()));
  }

  @Override
  public CompletionStage<NodeView> cordon(String nodeId) {
    return change(
        "cordon", nodeId, v -> with(v, v.status(), true, v.quarantined(), v.quarantineReason()));
  }

  @Override
  public CompletionStage<NodeView> uncordon(String nodeId) {
    return change(
        "uncordon",
        nodeId,
        v -> with(v, NodeView.ONLINE, false, v.quarantined(), v.quarantineReason()));
  }

  @Override
  public CompletionStage<NodeView> release(String nodeId) {
    return change("release", nodeId, v -> with(v, v.status(), v.cordoned(), false, null));
  }

  @Override
  public CompletionStage<NodeView> get(String nodeId) {
    calls.add("get " + nodeId);
    if (clusterDown) return down(nodeId);
    return CompletableFuture.completedFuture(nodes.getOrDefault(nodeId, unknown(nodeId)));
  }

  @Override
  public List<String> nodeIds() {
    return nodes.keySet().stream().sorted().toList();
  }

  private CompletionStage<NodeView> change(String op, String nodeId, UnaryOperator<NodeView> f) {
    calls.add(op + " " + nodeId);
    if (clusterDown) return down(nodeId);
    NodeView v = nodes.get(nodeId);
    if (v == null) return CompletableFuture.failedFuture(new UnknownNodeException(nodeId));
    NodeView changed = f.apply(v);
    nodes.put(nodeId, changed);
    return CompletableFuture.completedFuture(changed);
  }

  private static CompletionStage<NodeView> down(String nodeId) {
    // as ShardedNodeOperations fails it: the translated exception inside the stage's
    // CompletionException
    return CompletableFuture.supplyAsync(
        () -> {
          throw new ClusterUnavailableException(
              "the cluster did not answer for node " + nodeId + " within 10 s", null);
        });
  }

  static NodeView with(
      NodeView v, String status, boolean cordoned, boolean quarantined, String reason) {
    boolean accepts = NodeView.ONLINE.equals(status) && !cordoned && !quarantined;
    return new NodeView(
        v.nodeId(),
        status,
        v.specs(),
        v.metrics(),
        v.firstSeen(),
        v.lastSeen(),
        cordoned,
        accepts,
        v.offlineReason(),
        v.reputation(),
        v.agreed(),
        v.disagreed(),
        quarantined,
        reason,
        v.proven());
  }
}
