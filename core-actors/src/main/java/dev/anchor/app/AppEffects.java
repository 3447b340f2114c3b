package dev.anchor.app;

import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What an {@link AppEntity} needs from the cluster: node selection, node liveness and its node's
 * worker.
 */
public interface AppEffects {

  sealed interface Placement {
    record On(String nodeId) implements Placement {}

    record Nowhere(String reason) implements Placement {}
  }

  /**
   * A node for the app (RAM, cores, runtime {@code native}, not draining/cordoned/quarantined,
   * load), never one in {@code excluded}.
   */
  Placement place(String appId, AppSpec spec, Set<String> excluded);

  /**
   * The app holds (or no longer holds) its resources on a node; keeps the selection's accounting
   * current.
   */
  void holding(String appId, String nodeId, AppSpec spec);

  /** The node left the cluster (downed), or has not been heard of for long: its apps are moved. */
  boolean nodeGone(String nodeId);

  void send(AppOrder order);

  /** The app changed (after {@code event} was journaled): the change feed announces it. */
  default void changed(String event, AppView view) {}

  /**
   * An operator drains the node: its apps move gracefully (the new copy healthy first, then the old
   * one stops).
   */
  default boolean nodeDraining(String nodeId) {
    return false;
  }

  /** Nothing happens: entity tests and JVMs that only proxy to the shards. */
  AppEffects NONE =
      new AppEffects() {
        @Override
        public Placement place(String appId, AppSpec spec, Set<String> excluded) {
          return new Placement.Nowhere("no scheduler on this JVM");
        }

        @Override
        public void holding(String appId, String nodeId, AppSpec spec) {}

        @Override
        public boolean nodeGone(String nodeId) {
          return false;
        }

        @Override
        public void send(AppOrder order) {}
      };

  static void replyEmpty(ActorRef<AppOrder.AppLogs> to, String appId) {
    to.tell(new AppOrder.AppLogs(appId, null, java.util.List.of(), 0));
  }
}
