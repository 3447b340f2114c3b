package dev.anchor.ops;

import dev.anchor.node.NodeView;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * What an operator may do to a node, whatever the front end (HTTP, JMX). Every stage fails with
 * {@link UnknownNodeException} for a node that never registered, {@link
 * ClusterUnavailableException} when the cluster does not answer in time, and {@link
 * NodeOperationRejectedException} when the node refuses the change (e.g. draining an Offline node).
 */
public interface NodeOperations {

  CompletionStage<NodeView> drain(String nodeId);

  CompletionStage<NodeView> cordon(String nodeId);

  /** Also ends a drain: the node returns to service. */
  CompletionStage<NodeView> uncordon(String nodeId);

  /** Ends a quarantine. */
  CompletionStage<NodeView> release(String nodeId);

  /**
   * The node's view; status {@link NodeView#UNKNOWN} for a node that never registered (not a
   * failure).
   */
  CompletionStage<NodeView> get(String nodeId);

  /** The ids of the nodes this JVM knows about, sorted. */
  List<String> nodeIds();
}
