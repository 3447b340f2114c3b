package dev.anchor.ops;

import com.typesafe.config.Config;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pekko Management's HTTP endpoint (/cluster/members, /ready, /alive) per {@code
 * anchor.management}. Optional for the node: a port already in use is logged and the node goes on
 * without it.
 */
public final class ManagementEndpoint {
  private static final Logger log = LoggerFactory.getLogger(ManagementEndpoint.class);

  private ManagementEndpoint() {}

  /**
   * Starts the endpoint unless {@code anchor.management.enabled} is off or its port is 0.
   *
   * @return the bound address, or empty when not started (disabled, or the bind failed: logged as a
   *     warning)
   */
  public static CompletionStage<Optional<String>> start(ActorSystem<?> system, Config config) {
    boolean enabled =
        !config.hasPath("anchor.management.enabled")
            || config.getBoolean("anchor.management.enabled");
    int port =
        config.hasPath("anchor.management.port") ? config.getInt("anchor.management.port") : 0;
    if (!enabled || port == 0) {
      log.info(
          "Pekko Management not started (anchor.management.enabled={}, port={})", enabled, port);
      return CompletableFuture.completedFuture(Optional.empty());
    }
    CompletionStage<Optional<String>> started;
    try {
      started = PekkoManagement.get(system).start().thenApply(uri -> Optional.of(uri.toString()));
    } catch (RuntimeException e) {
      started = CompletableFuture.failedFuture(e);
    }
    return started.handle(
        (uri, e) -> {
          if (e == null) {
            log.info("Pekko Management on {} (cluster/members, ready, alive)", uri.orElse("?"));
            return uri;
          }
          Throwable t =
              e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                  ? e.getCause()
                  : e;
          log.warn(
              "Pekko Management not started on {}:{} ({}); the node runs on without it (set ANCHOR_MANAGEMENT_PORT"
                  + " to a free port, or ANCHOR_MANAGEMENT=off)",
              config.getString("pekko.management.http.hostname"),
              port,
              t.toString());
          return Optional.<String>empty();
        });
  }
}
