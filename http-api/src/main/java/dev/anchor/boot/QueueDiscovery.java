package dev.anchor.boot;

import dev.anchor.config.StoreUnavailableException;
import dev.anchor.queue.QueueAddress;
import dev.anchor.queue.RedisConnector;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker started without {@code ANCHOR_REDIS_URI} asks the cluster it joins where the job queue
 * is (a coordinator's {@link QueueAddress#provider}) and connects to that; it never starts a Redis
 * of its own, which no coordinator would ever put a job on. When it cannot learn the address, or
 * cannot reach it, the start fails with one line saying what is missing and how to give it.
 */
final class QueueDiscovery {
  private static final Logger log = LoggerFactory.getLogger(QueueDiscovery.class);

  private QueueDiscovery() {}

  static Stores learnAndConnect(ActorSystem<?> system, List<String> seeds, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Cluster cluster = Cluster.get(system);
    while (System.nanoTime() < deadline) {
      if (cluster.selfMember().status() == MemberStatus.up()) {
        ActorRef<QueueAddress.Get> provider = anyProvider(system);
        if (provider != null) {
          QueueAddress.Address address = ask(provider, system);
          if (address != null) return connect(address, provider);
        }
      }
      TimeUnit.MILLISECONDS.sleep(500);
    }
    boolean member = cluster.selfMember().status() == MemberStatus.up();
    throw new StoreUnavailableException(
        "this worker has no job queue: ANCHOR_REDIS_URI is unset and "
            + (member
                ? "no coordinator of the cluster told it the queue's address within "
                    + timeout.toSeconds()
                    + " s (are "
                    + "the coordinators of an older Anchor version?)"
                : "it did not become a member of the cluster through ANCHOR_SEED_NODES "
                    + seeds.stream().map(s -> s.substring(s.indexOf('@') + 1)).toList()
                    + " within "
                    + timeout.toSeconds()
                    + " s (is a "
                    + "standalone or coordinator running there, reachable from here, with the same cluster TLS setting?)")
            + ". Fix ANCHOR_SEED_NODES, or set ANCHOR_REDIS_URI=redis://:password@host:port to the cluster's Redis "
            + "(ANCHOR_QUEUE_DISCOVERY_TIMEOUT waits longer)",
        null);
  }

  private static ActorRef<QueueAddress.Get> anyProvider(ActorSystem<?> system) {
    try {
      Receptionist.Listing listing =
          AskPattern.<Receptionist.Command, Receptionist.Listing>ask(
                  system.receptionist(),
                  replyTo -> Receptionist.find(QueueAddress.KEY, replyTo),
                  Duration.ofSeconds(3),
                  system.scheduler())
              .toCompletableFuture()
              .get(5, TimeUnit.SECONDS);
      return listing.getServiceInstances(QueueAddress.KEY).stream().findFirst().orElse(null);
    } catch (Exception notYet) {
      return null;
    }
  }

  private static QueueAddress.Address ask(
      ActorRef<QueueAddress.Get> provider, ActorSystem<?> system) {
    try {
      return AskPattern.<QueueAddress.Get, QueueAddress.Address>ask(
              provider, QueueAddress.Get::new, Duration.ofSeconds(5), system.scheduler())
          .toCompletableFuture()
          .get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.info(
          "the coordinator at {} did not answer where the queue is ({}); asking again",
          provider.path().address(),
          e.toString());
      return null;
    }
  }

  private static Stores connect(QueueAddress.Address address, ActorRef<QueueAddress.Get> provider) {
    String from = provider.path().address().hostPort();
    try {
      Stores stores = Stores.open(address.redisUri());
      log.info(
          "job queue {} learned from the coordinator at {}",
          RedisConnector.redact(address.redisUri()),
          from);
      return stores;
    } catch (StoreUnavailableException e) {
      throw new StoreUnavailableException(
          "this worker learned the cluster's job queue from the coordinator at "
              + from
              + " but "
              + e.getMessage()
              + (address.reachable().isEmpty() ? "" : "; " + address.reachable())
              + ". Or set ANCHOR_REDIS_URI=redis://:password@host:port to a Redis both reach",
          e);
    }
  }
}
