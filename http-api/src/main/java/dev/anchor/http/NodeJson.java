package dev.anchor.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.anchor.node.NodeView;
import java.util.List;
import java.util.Locale;

/**
 * What GET /api/nodes and GET /api/nodes/{id} share: field spellings, rounding for people, the
 * status filter.
 */
final class NodeJson {
  static final List<String> STATUSES =
      List.of(NodeView.ONLINE, NodeView.DRAINING, NodeView.OFFLINE);

  private NodeJson() {}

  /**
   * Reputation moves by fractions (0.5 → 0.55 → 0.595 …): three decimals are what a person can use.
   */
  static double reputation(double r) {
    return Math.round(r * 1000) / 1000.0;
  }

  /**
   * One node's view with the list's spellings: {@code metrics.uptime} (seconds); {@code
   * metrics.uptimeS}, its old name here, is kept for clients that read it.
   */
  static ObjectNode detail(NodeView v) {
    ObjectNode n = Json.MAPPER.valueToTree(v);
    n.put("reputation", reputation(v.reputation()));
    if (n.get("metrics") instanceof ObjectNode m && m.has("uptimeS")) {
      ObjectNode reordered = Json.MAPPER.createObjectNode();
      m.fields()
          .forEachRemaining(
              e -> {
                if (e.getKey().equals("uptimeS")) reordered.set("uptime", e.getValue());
                reordered.set(e.getKey(), e.getValue());
              });
      n.set("metrics", reordered);
    }
    return n;
  }

  /**
   * The canonical status named by a {@code status} query value (any case); a 400 naming {@code
   * status} else.
   */
  static String statusFilter(String value) {
    for (String s : STATUSES)
      if (s.toLowerCase(Locale.ROOT).equals(value.trim().toLowerCase(Locale.ROOT))) return s;
    throw new BadRequest(
        "status", "status must be one of " + String.join(", ", STATUSES) + ", not '" + value + "'");
  }
}
