package dev.anchor.ops;

/**
 * The cluster-wide MBean: every node by id, including one this JVM has not seen a heartbeat from
 * yet.
 */
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
    return operate(nodeId, ops::drain);
  }

  @Override
  public String cordon(String nodeId) {
    return operate(nodeId, ops::cordon);
  }

  @Override
  public String uncordon(String nodeId) {
    return operate(nodeId, ops::uncordon);
  }

  @Override
  public String release(String nodeId) {
    return operate(nodeId, ops::release);
  }

  /** Runs one operator command on the node and answers its short status afterwards. */
  private String operate(
      String nodeId,
      java.util.function.Function<
              String, java.util.concurrent.CompletionStage<dev.anchor.node.NodeView>>
          command) {
    String id = checked(nodeId);
    return OperatorCalls.shortStatus(OperatorCalls.await(command.apply(id), id));
  }

  @Override
  public String describe(String nodeId) {
    String id = checked(nodeId);
    var view = OperatorCalls.await(ops.get(id), id);
    if (dev.anchor.node.NodeView.UNKNOWN.equals(view.status()))
      throw new IllegalArgumentException("unknown node " + id);
    return OperatorCalls.describe(view);
  }

  private static String checked(String nodeId) {
    if (nodeId == null || nodeId.isBlank())
      throw new IllegalArgumentException("nodeId is required");
    return nodeId.strip();
  }
}
