package dev.anchor.node;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * @param heartbeatPersistInterval a heartbeat is journaled at most this often; those in between only update memory
 *                                 (see {@link NodeEntity})
 */
public record NodeSettings(Duration heartbeatPersistInterval) {

  public static final String CONFIG_PATH = "anchor.node-registry";

  public static NodeSettings defaults() {
    return new NodeSettings(Duration.ofSeconds(60));
  }

  /** Reads {@code anchor.node-registry.heartbeat-persist-interval}; absent means the default. */
  public static NodeSettings fromConfig(Config root) {
    String key = CONFIG_PATH + ".heartbeat-persist-interval";
    return root.hasPath(key) ? new NodeSettings(root.getDuration(key)) : defaults();
  }
}
