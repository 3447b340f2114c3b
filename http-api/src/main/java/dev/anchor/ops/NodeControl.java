package dev.anchor.ops;

import dev.anchor.node.NodeView;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * The per-node MBean. Caches the view so that jconsole reading eight attributes costs one ask, not
 * eight.
 */
public final class NodeControl implements NodeControlMBean {
  static final Duration MAX_AGE = Duration.ofSeconds(2);

  private final String nodeId;
  private final NodeOperations ops;
  private final LongSupplier nanoClock;
  private NodeView cached;
  private long cachedAt;

  public NodeControl(String nodeId, NodeOperations ops) {
    this(nodeId, ops, System::nanoTime);
  }

  NodeControl(String nodeId, NodeOperations ops, LongSupplier nanoClock) {
    this.nodeId = nodeId;
    this.ops = ops;
    this.nanoClock = nanoClock;
  }

  private synchronized NodeView view() {
    long now = nanoClock.getAsLong();
    if (cached != null && now - cachedAt < MAX_AGE.toNanos()) return cached;
    try {
      remember(OperatorCalls.await(ops.get(nodeId), nodeId));
    } catch (IllegalStateException e) {
      // a slow cluster should not blank the console: show the last view if there is one
      if (cached == null) throw e;
    }
    return cached;
  }

  private synchronized NodeView remember(NodeView v) {
    cached = v;
    cachedAt = nanoClock.getAsLong();
    return v;
  }

  @Override
  public String getNodeId() {
    return nodeId;
  }

  @Override
  public String getStatus() {
    return view().status();
  }

  @Override
  public double getReputation() {
    return view().reputation();
  }

  @Override
  public long getAgreed() {
    return view().agreed();
  }

  @Override
  public long getDisagreed() {
    return view().disagreed();
  }

  @Override
  public boolean isCordoned() {
    return view().cordoned();
  }

  @Override
  public boolean isQuarantined() {
    return view().quarantined();
  }

  @Override
  public String getQuarantineReason() {
    return view().quarantineReason();
  }

  @Override
  public boolean isAcceptsTasks() {
    return view().acceptsTasks();
  }

  @Override
  public String drain() {
    return OperatorCalls.shortStatus(remember(OperatorCalls.await(ops.drain(nodeId), nodeId)));
  }

  @Override
  public String cordon() {
    return OperatorCalls.shortStatus(remember(OperatorCalls.await(ops.cordon(nodeId), nodeId)));
  }

  @Override
  public String uncordon() {
    return OperatorCalls.shortStatus(remember(OperatorCalls.await(ops.uncordon(nodeId), nodeId)));
  }

  @Override
  public String release() {
    return OperatorCalls.shortStatus(remember(OperatorCalls.await(ops.release(nodeId), nodeId)));
  }
}
