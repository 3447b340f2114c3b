package dev.anchor.ops;

/**
 * Every known node under JMX as {@code dev.anchor:type=Cluster,name=nodes}: operate on a node by
 * its id.
 */
public interface ClusterControlMBean {
  String[] getNodeIds();

  String drain(String nodeId);

  String cordon(String nodeId);

  String uncordon(String nodeId);

  String release(String nodeId);

  /** One line: status, flags, reputation and verdict counts. */
  String describe(String nodeId);
}
