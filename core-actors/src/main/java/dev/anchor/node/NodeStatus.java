package dev.anchor.node;

import dev.anchor.CborSerializable;

/**
 * A node's operator flags and trust, published by its {@link NodeEntity} on every change and every
 * heartbeat, so every coordinator's scheduler and the worker itself converge within a heartbeat
 * even after a restart.
 *
 * @param status "Online", "Draining", "Offline" (as in {@link NodeView})
 * @param proven enough agreements at a high enough reputation to be trusted alone (adaptive
 *     replication)
 */
public record NodeStatus(
    String nodeId,
    String status,
    boolean cordoned,
    boolean quarantined,
    double reputation,
    boolean proven,
    long agreed,
    long disagreed,
    long at)
    implements CborSerializable {

  /** Whether the node should take jobs from its queue: not draining and not quarantined. */
  public boolean takesWork() {
    return !NodeView.DRAINING.equals(status) && !quarantined;
  }
}
