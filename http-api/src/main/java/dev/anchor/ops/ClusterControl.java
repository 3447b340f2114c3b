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
    String id = checked(nodeId);
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.drain(id), id));
  }

  @Override
  public String cordon(String nodeId) {
    String id = checked(nodeId);
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.cordon(id), id));
  }

  @Override
  public String uncordon(String nodeId) {
    String id = checked(nodeId);
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.uncordon(id), id));
  }

  @Override
  public String release(String nodeId) {
    String id = checked(nodeId);
    return OperatorCalls.shortStatus(OperatorCalls.await(ops.release(id), id));
  }

  @Override
  public String describe(String nodeId) {
    String id = checked(nodeId);
    var view = OperatorCalls.await(ops.get(id), id);
    if (dev.anchor.node.NodeView.UNKNOWN.equals(view.status())) throw new IllegalArgumentException("unknown node " + id);
    return OperatorCalls.describe(view);
  }

  private static String checked(String nodeId) {
    if (nodeId == null || nodeId.isBlank()) throw new IllegalArgumentException("nodeId is required");
    return nodeId.strip();
  }
}
