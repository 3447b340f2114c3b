package dev.anchor.boot;

import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A JVM that cannot join its cluster keeps trying, silently in Pekko's eyes (a refused TLS
 * handshake shows only as a dropped connection to a JVM that sent plain TCP). Until it is a member
 * it says every 20 s what it is waiting for and the likely reasons, TLS credentials first, so an
 * operator reading its log is told why.
 */
final class JoinWatch {
  private static final Logger log = LoggerFactory.getLogger(JoinWatch.class);
  static final Duration EVERY = Duration.ofSeconds(20);

  private JoinWatch() {}

  static void start(ActorSystem<?> system, List<String> seeds, boolean tls) {
    org.apache.pekko.cluster.Cluster cluster =
        org.apache.pekko.cluster.Cluster.get(
            org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(system));
    Cancellable tick =
        system
            .scheduler()
            .scheduleAtFixedRate(
                EVERY,
                EVERY,
                () -> {
                  // before it has joined, a node's own status reads Removed; "up once" is what
                  // registerOnMemberUp tells
                  if (cluster.isTerminated()) return;
                  log.warn(
                      "not a cluster member yet, still trying to join through {}. {}",
                      seeds,
                      tls
                          ? "This JVM uses cluster TLS: if the log shows SSLHandshakeException, its certificate (ANCHOR_TLS_KEYSTORE) "
                              + "is not trusted by the cluster's trust store, or it does not trust theirs (ANCHOR_TLS_TRUSTSTORE)."
                          : "This JVM uses plain TCP (no ANCHOR_TLS_KEYSTORE): if the cluster runs TLS, it refuses this JVM "
                              + "until it is given the cluster's key store and trust store.");
                },
                system.executionContext());
    cluster.registerOnMemberUp(tick::cancel);
    cluster.registerOnMemberRemoved(tick::cancel);
  }
}
