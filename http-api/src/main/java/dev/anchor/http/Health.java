package dev.anchor.http;

import java.util.List;
import java.util.Map;

/**
 * A node's answer to GET /health.
 *
 * @param unhealthy which of store, queue, cluster failed (empty when healthy)
 */
public record Health(
    String status,
    boolean healthy,
    String role,
    String nodeId,
    List<String> unhealthy,
    Map<String, Object> store,
    Map<String, Object> queue,
    Map<String, Object> cluster) {}
