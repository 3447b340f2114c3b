package dev.anchor.ops;

import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.ExtensionId;
import org.apache.pekko.actor.ExtensionIdProvider;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.management.javadsl.ManagementRouteProvider;
import org.apache.pekko.management.javadsl.ManagementRouteProviderSettings;

/**
 * Adds GET /metrics to Pekko Management's port (every JVM: coordinators, workers, a standalone),
 * configured in application.conf under {@code pekko.management.http.routes}. Read-only, no token,
 * like the rest of that port (loopback by default: ANCHOR_MANAGEMENT_HOST).
 */
public final class MetricsRouteProvider extends AbstractExtensionId<MetricsRouteProvider.Routes>
    implements ExtensionIdProvider {
  public static final MetricsRouteProvider INSTANCE = new MetricsRouteProvider();

  public MetricsRouteProvider() {}

  @Override
  public ExtensionId<? extends org.apache.pekko.actor.Extension> lookup() {
    return INSTANCE;
  }

  @Override
  public Routes createExtension(ExtendedActorSystem system) {
    return new Routes();
  }

  public static final class Routes implements ManagementRouteProvider {
    @Override
    public Route routes(ManagementRouteProviderSettings settings) {
      return Metrics.route();
    }
  }
}
