package dev.anchor.ops;

/** The cluster-wide MBean: every node by id, including one this JVM has not seen a heartbeat from yet. */
public final class ClusterControl implements ClusterControlMBean {
  private final NodeOperations ops;

  public ClusterControl(NodeOperations ops) {
    this.ops = ops;
  }

  @Override
  public String[] getNodeIds() {
    return ops.nodeIds().toArray(String[]::new);
  }

  @Override
  public String drain(String nodeId) {
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.drain(checked(nodeId)), nodeId));
  }

  @Override
  public String cordon(String nodeId) {
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.cordon(checked(nodeId)), nodeId));
  }

  @Override
  public String uncordon(String nodeId) {
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.uncordon(checked(nodeId)), nodeId));
  }

  @Override
  public String release(String nodeId) {
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.release(checked(nodeId)), nodeId));
  }

  @Override
  public String describe(String nodeId) {
    var view = OperatorCalls.await(ops.get(checked(nodeId)), nodeId);
    if (dev.anchor.node.NodeView.UNKNOWN.equals(view.status())) throw new IllegalArgumentException("unknown node " + nodeId);
    return OperatorCalls.describe(view);
  }

  private static String checked(String nodeId) {
    if (nodeId == null || nodeId.isBlank()) throw new IllegalArgumentException("nodeId is required");
    return nodeId.strip();
  }
}
