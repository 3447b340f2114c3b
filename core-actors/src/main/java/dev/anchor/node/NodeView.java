package dev.anchor.node;

import dev.anchor.CborSerializable;

/**
 * A node as clients and the scheduler see it (GET /api/nodes). Times are epoch milliseconds.
 *
 * @param status "Unknown" (never registered), "Online", "Draining" (finishes its work, takes no
 *     new) or "Offline"
 * @param cordoned an operator excluded the node from new work; independent of status
 * @param acceptsTasks whether new tasks may be placed on it: Online, not cordoned, not quarantined
 * @param lastSeen the last registration or heartbeat
 * @param reputation trust in the node's results in [0, 1], moved by cross-checked (verified)
 *     results
 * @param agreed results that agreed with the quorum
 * @param disagreed results that disagreed with it
 * @param quarantined the node's reputation fell below the threshold; no work until an operator
 *     releases it
 * @param proven trusted to run a task alone under the adaptive verification policy
 */
public record NodeView(
    String nodeId,
    String status,
    NodeSpecs specs,
    NodeMetrics metrics,
    Long firstSeen,
    Long lastSeen,
    boolean cordoned,
    boolean acceptsTasks,
    String offlineReason,
    double reputation,
    long agreed,
    long disagreed,
    boolean quarantined,
    String quarantineReason,
    boolean proven)
    implements CborSerializable {

  public static final String UNKNOWN = "Unknown";
  public static final String ONLINE = "Online";
  public static final String DRAINING = "Draining";
  public static final String OFFLINE = "Offline";
}
