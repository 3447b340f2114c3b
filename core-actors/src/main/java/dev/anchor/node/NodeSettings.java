package dev.anchor.node;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * @param heartbeatPersistInterval a heartbeat is journaled at most this often; those in between
 *     only update memory (see {@link NodeEntity})
 * @param reputation how cross-checked results move a node's reputation
 */
public record NodeSettings(Duration heartbeatPersistInterval, Reputation reputation) {

  public static final String CONFIG_PATH = "anchor.node-registry";

  /**
   * A node's trust in [0, 1], BOINC-style: a new node starts {@code initial} (unproven); each
   * agreement with the quorum moves it a {@code gain} fraction of the way to 1, each disagreement
   * multiplies it by {@code 1 - loss}, so one wrong result costs more than many right ones earn.
   * Below {@code quarantineBelow} the node is quarantined. A node is proven once it has {@code
   * provenAfter} agreements and a reputation of at least {@code trustedAbove}.
   */
  public record Reputation(
      double initial,
      double gain,
      double loss,
      double quarantineBelow,
      int provenAfter,
      double trustedAbove) {
    public static final Reputation DEFAULT = new Reputation(0.5, 0.1, 0.5, 0.2, 10, 0.7);

    public double afterAgreement(double r) {
      return r + (1 - r) * gain;
    }

    public double afterDisagreement(double r) {
      return r * (1 - loss);
    }

    public boolean proven(double r, long agreed) {
      return agreed >= provenAfter && r >= trustedAbove;
    }
  }

  public NodeSettings(Duration heartbeatPersistInterval) {
    this(heartbeatPersistInterval, Reputation.DEFAULT);
  }

  public static NodeSettings defaults() {
    return new NodeSettings(Duration.ofSeconds(60), Reputation.DEFAULT);
  }

  /**
   * Reads {@code anchor.node-registry.*} and {@code anchor.reputation.*}; absent keys take the
   * defaults.
   */
  public static NodeSettings fromConfig(Config root) {
    String key = CONFIG_PATH + ".heartbeat-persist-interval";
    Duration persist = root.hasPath(key) ? root.getDuration(key) : Duration.ofSeconds(60);
    Reputation d = Reputation.DEFAULT;
    Reputation r =
        new Reputation(
            num(root, "anchor.reputation.initial", d.initial()),
            num(root, "anchor.reputation.gain", d.gain()),
            num(root, "anchor.reputation.loss", d.loss()),
            num(root, "anchor.reputation.quarantine-below", d.quarantineBelow()),
            root.hasPath("anchor.reputation.proven-after")
                ? root.getInt("anchor.reputation.proven-after")
                : d.provenAfter(),
            num(root, "anchor.reputation.trusted-above", d.trustedAbove()));
    return new NodeSettings(persist, r);
  }

  private static double num(Config c, String path, double fallback) {
    return c.hasPath(path) ? c.getDouble(path) : fallback;
  }
}
