package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.node.NodeMetrics;
import dev.anchor.node.NodeView;
import org.junit.jupiter.api.Test;

/**
 * The node list and the node detail agree on spellings and rounding; unknown filter values are
 * refused.
 */
class NodeJsonTest {
  @Test
  void reputationIsRoundedToThreeDecimals() {
    assertEquals(0.595, NodeJson.reputation(0.5950000000000001));
    assertEquals(0.5, NodeJson.reputation(0.5));
    assertEquals(0.136, NodeJson.reputation(0.13555));
  }

  @Test
  void theDetailSpellsUptimeAsTheListDoesAndKeepsTheOldName() {
    NodeView v =
        new NodeView(
            "n1",
            NodeView.ONLINE,
            null,
            new NodeMetrics(10, 20, 42, 1),
            1L,
            2L,
            false,
            true,
            null,
            0.5950000000000001,
            3,
            0,
            false,
            null,
            false);
    JsonNode n = NodeJson.detail(v);
    assertEquals(42, n.path("metrics").path("uptime").asLong());
    assertEquals(42, n.path("metrics").path("uptimeS").asLong());
    assertEquals("0.595", n.path("reputation").asText());
  }

  @Test
  void statusFiltersAreCheckedAndCanonical() {
    assertEquals("Offline", NodeJson.statusFilter("offline"));
    assertEquals("Online", NodeJson.statusFilter("Online"));
    BadRequest e = assertThrows(BadRequest.class, () -> NodeJson.statusFilter("Bogus"));
    assertEquals("status", e.field());
    assertEquals("Completed", TaskRoutes.taskStatus("completed"));
    e = assertThrows(BadRequest.class, () -> TaskRoutes.taskStatus("Bogus"));
    assertEquals("status", e.field());
    assertTrue(e.getMessage().contains("Queued"), e.getMessage());
  }
}
