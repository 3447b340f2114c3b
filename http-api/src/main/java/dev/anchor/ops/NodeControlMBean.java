package dev.anchor.ops;

/**
 * One node under JMX as {@code dev.anchor:type=Node,name=<nodeId>}. Attributes come from a view at
 * most ~2 s old; operations answer the node's short status after the change ("Draining", "Online,
 * cordoned", …).
 */
public interface NodeControlMBean {
  String getNodeId();

  String getStatus();

  double getReputation();

  long getAgreed();

  long getDisagreed();

  boolean isCordoned();

  boolean isQuarantined();

  String getQuarantineReason();

  boolean isAcceptsTasks();

  String drain();

  String cordon();

  String uncordon();

  String release();
}
