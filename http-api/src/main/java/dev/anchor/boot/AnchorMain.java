package dev.anchor.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.anchor.boot.ClusterBootstrapConfig.Role;
import dev.anchor.config.AnchorSettings;
import dev.anchor.config.StoreUnavailableException;
import dev.anchor.http.ApiServer;
import dev.anchor.ops.ManagementEndpoint;
import dev.anchor.ops.OperatorMBeans;
import dev.anchor.ops.ShardedNodeOperations;
import dev.anchor.scheduling.ClusterMembers;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point of every Anchor JVM: {@code standalone} (coordinator + worker + embedded stores),
 * {@code coordinator} or {@code worker}. Any start-up failure ends the JVM with one line on stderr
 * that names what is wrong.
 */
public final class AnchorMain {
  private static final Logger log = LoggerFactory.getLogger(AnchorMain.class);

  public static void main(String[] args) {
    Role role;
    try {
      role = Role.parse(args.length == 0 ? "standalone" : args[0]);
    } catch (IllegalArgumentException e) {
      fail(e.getMessage());
      return;
    }
    try {
      start(role);
    } catch (StoreUnavailableException | IllegalArgumentException | PortTakenException e) {
      fail(e.getMessage());
    } catch (Exception e) {
      log.error("start-up failed", e);
      fail("start-up failed: " + e);
    }
  }

  static void start(Role role) throws Exception {
    Config base = StoreFallbacks.apply(ConfigFactory.load(), System.getenv());
    if (StoreFallbacks.applyLogging(base, System.getenv()))
      log.info("environment development: dev.anchor logs at DEBUG");
    AnchorSettings settings = AnchorSettings.from(base);
    // before any port or store is opened: a coordinator without credentials must not come up at all
    ApiAccess access = role.coordinates() ? ApiAccess.forRole(role, base, settings) : null;
    Config clusterConfig = ClusterBootstrapConfig.forRole(role, System.getenv());
    java.util.Optional<ClusterTls> tls = ClusterTls.from(base);
    if (tls.isPresent()) {
      clusterConfig = tls.get().pekkoConfig().withFallback(clusterConfig);
    } else if (role != Role.STANDALONE) {
      log.warn(
          "the cluster port is plain TCP: any JVM that reaches it can join as a worker and be handed jobs; set "
              + "ANCHOR_TLS_KEYSTORE and ANCHOR_TLS_TRUSTSTORE (README \"Cluster membership\")");
    }
    if (role.coordinates())
      ensurePortFree(settings.httpHost(), settings.httpPort(), "HTTP port (ANCHOR_PORT)");
    Launch launch = new Launch(role, base, settings, access, clusterConfig, tls);
    ActorSystem<Void> system = launch(launch);
    if (role == Role.WORKER) restartWhenDowned(launch, system, 1);
  }

  /** What a node's actor system is started from; a downed worker starts a new one from the same. */
  private record Launch(
      Role role,
      Config base,
      AnchorSettings settings,
      ApiAccess access,
      Config clusterConfig,
      java.util.Optional<ClusterTls> tls) {}

  private static ActorSystem<Void> launch(Launch l) throws Exception {
    Role role = l.role();
    AnchorSettings settings = l.settings();
    Config base = l.base();
    Config clusterConfig = l.clusterConfig();
    java.util.Optional<ClusterTls> tls = l.tls();
    ApiAccess access = l.access();
    int clusterPort = clusterConfig.getInt("pekko.remote.artery.canonical.port");
    String clusterHost = clusterConfig.getString("pekko.remote.artery.canonical.hostname");
    if (clusterPort != 0)
      ensurePortFree(clusterHost, clusterPort, "cluster port (ANCHOR_CLUSTER_PORT)");

    // a worker without ANCHOR_REDIS_URI opens no store before it joins: it learns the queue's
    // address from the cluster
    boolean learnQueue = role == Role.WORKER && settings.embeddedRedis();
    Stores early =
        learnQueue
            ? null
            : Stores.open(
                settings,
                role.coordinates(),
                !settings.embeddedRedis()
                    ? Stores.EmbeddedListen.LOOPBACK // not used: an external Redis
                    : Stores.EmbeddedListen.of(
                        base.getString("anchor.redis.embedded-bind"),
                        base.getInt("anchor.redis.embedded-port"),
                        clusterHost));
    if (role == Role.COORDINATOR) clusterConfig = withLiveMembersAsSeeds(clusterConfig, early);
    Config merged =
        clusterConfig
            .withFallback(early == null ? ConfigFactory.empty() : early.configOverrides())
            .withFallback(base);
    // a worker's blocking dispatcher has a thread for each of its slots, and a few more
    Config config =
        role.works() ? dev.anchor.worker.NodeAgent.withBlockingDispatcherSized(merged) : merged;
    ActorSystem<Void> system =
        ActorSystem.create(Behaviors.empty(), ClusterBootstrapConfig.SYSTEM_NAME, config);
    java.util.concurrent.atomic.AtomicReference<Stores> opened =
        new java.util.concurrent.atomic.AtomicReference<>(early);
    // the stores outlive every actor that uses them: closed in the last phase before the actor
    // system terminates
    org.apache.pekko.actor.CoordinatedShutdown.get(system)
        .addTask(
            org.apache.pekko.actor.CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
            "close-stores",
            () -> {
              if (opened.get() != null) opened.get().close();
              return java.util.concurrent.CompletableFuture.completedFuture(
                  org.apache.pekko.Done.getInstance());
            });
    system
        .getWhenTerminated()
        .whenComplete(
            (d, t) -> {
              if (opened.get() != null) opened.get().close();
            });
    try {
      JoinWatch.start(system, config.getStringList("pekko.cluster.seed-nodes"), tls.isPresent());
      Stores stores = early;
      if (learnQueue) {
        stores =
            QueueDiscovery.learnAndConnect(
                system,
                config.getStringList("pekko.cluster.seed-nodes"),
                base.getDuration("anchor.worker.queue-discovery-timeout"));
        opened.set(stores);
      }
      stores.attach(system);
      AnchorNode node = AnchorNode.start(system, settings, stores, role);
      if (role.coordinates()) {
        ApiServer.start(system, settings, node.apiServices(), access.verifier())
            .toCompletableFuture()
            .join();
        access.announce(settings);
        log.info(
            "Anchor {} ready: http://{}:{} (cluster {}:{} over {}, data {})",
            role.name().toLowerCase(),
            settings.httpHost(),
            settings.httpPort(),
            clusterHost,
            clusterPort,
            tls.isPresent() ? "TLS" : "TCP",
            settings.dataDir());
        if (role == Role.STANDALONE) printWelcome(node, settings, clusterHost, clusterPort, stores);
      } else {
        log.info(
            "Anchor worker {} started, joining through {}",
            node.nodeId(),
            config.getStringList("pekko.cluster.seed-nodes"));
      }
      startOperatorControl(system, config, node);
    } catch (Exception e) {
      system.terminate();
      throw unwrap(e);
    }
    return system;
  }

  /**
   * Pause before a downed worker starts again, doubling per failed start up to {@link
   * #RESTART_MAX}.
   */
  private static final java.time.Duration RESTART_FIRST = java.time.Duration.ofSeconds(2);

  private static final java.time.Duration RESTART_MAX = java.time.Duration.ofSeconds(60);

  /**
   * A worker the cluster downed (frozen, or cut off, longer than the down-after time: its jobs were
   * re-run elsewhere) cannot rejoin with its old actor system, so it starts a new one, with the
   * same node id and cluster port, and takes work again without an operator. Results it still held
   * for the old jobs are refused by their tasks, whose current attempt is elsewhere. Any other end
   * of its actor system ends the JVM (what {@code exit-jvm} does for coordinators, which {@link
   * ClusterBootstrapConfig} leaves on for them).
   */
  private static void restartWhenDowned(Launch launch, ActorSystem<Void> system, int incarnation) {
    // a thread that is not a daemon waits for the end and decides: with a callback on the
    // terminating system, the
    // JVM could find no live non-daemon thread left between the system's end and the restart, and
    // exit (ClusterIT)
    Thread keeper =
        new Thread(
            () -> {
              try {
                system.getWhenTerminated().toCompletableFuture().join();
              } catch (RuntimeException ended) {
                // ended all the same: decide below
              }
              var reason =
                  org.apache.pekko.actor.CoordinatedShutdown.get(system).getShutdownReason();
              if (reason.isPresent()
                  && reason
                      .get()
                      .equals(org.apache.pekko.actor.CoordinatedShutdown.jvmExitReason())) {
                return; // the JVM itself is going down (SIGTERM): nothing to restart
              }
              boolean downed =
                  reason.isPresent()
                      && reason
                          .get()
                          .equals(
                              org.apache.pekko.actor.CoordinatedShutdown.clusterDowningReason());
              if (!downed) {
                log.info(
                    "worker actor system ended ({}); exiting",
                    reason.map(Object::toString).orElse("no reason given"));
                exitOnOwnThread(0);
                return;
              }
              startAgain(
                  launch,
                  incarnation
                      + 1); // on this thread, which holds the JVM while no actor system runs
            },
            "anchor-worker-keeper");
    keeper.setDaemon(false);
    keeper.start();
  }

  private static void startAgain(Launch launch, int incarnation) {
    java.time.Duration pause = RESTART_FIRST;
    log.warn(
        "this worker was downed by the cluster (unreachable longer than the down-after time; its jobs were "
            + "re-run elsewhere): starting a new actor system ({}), same node id, in {}",
        incarnation,
        pause);
    while (true) {
      try {
        Thread.sleep(pause.toMillis());
        ActorSystem<Void> again = launch(launch);
        restartWhenDowned(launch, again, incarnation);
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (Exception e) {
        pause =
            pause.multipliedBy(2).compareTo(RESTART_MAX) > 0 ? RESTART_MAX : pause.multipliedBy(2);
        log.warn("starting the worker again failed, next try in {}: {}", pause, e.toString());
      }
    }
  }

  private static void exitOnOwnThread(int status) {
    // System.exit runs the shutdown hooks, which wait for the actor system's threads: not from one
    // of them
    Thread t = new Thread(() -> System.exit(status), "anchor-exit");
    t.setDaemon(false);
    t.start();
  }

  /** Once per start, on stdout: what a newcomer needs next (README "Adding a worker"). */
  private static void printWelcome(
      AnchorNode node,
      AnchorSettings settings,
      String clusterHost,
      int clusterPort,
      Stores stores) {
    String host =
        settings.httpHost().equals("0.0.0.0") || settings.httpHost().equals("::")
            ? "127.0.0.1"
            : settings.httpHost();
    String remote = stores.workerAddress().reachable();
    System.out.println();
    System.out.println("    node id:  " + node.nodeId());
    System.out.println("    HTTP:     http://" + host + ":" + settings.httpPort());
    System.out.println("    add a worker" + (remote.isEmpty() ? "" : " on this machine") + ":");
    System.out.println(
        "        ANCHOR_SEED_NODES=" + clusterHost + ":" + clusterPort + " ./anchor worker");
    if (!remote.isEmpty()) {
      System.out.println(
          "    (workers on other machines: restart with ANCHOR_CLUSTER_HOST=<this machine's address>;"
              + " see README \"Adding a worker\")");
    }
    System.out.println();
    System.out.flush();
  }

  /**
   * A coordinator restarting while its workers (and other coordinators) run must join their
   * cluster, not form a new one beside it: members seen alive in the last 30 s are added after the
   * configured seeds. If none answers, the first seed (this node, when it is the first) still forms
   * the cluster after the seed-node timeout.
   */
  private static Config withLiveMembersAsSeeds(Config clusterConfig, Stores stores) {
    String self =
        "pekko://"
            + ClusterBootstrapConfig.SYSTEM_NAME
            + "@"
            + clusterConfig.getString("pekko.remote.artery.canonical.hostname")
            + ":"
            + clusterConfig.getInt("pekko.remote.artery.canonical.port");
    List<String> seeds =
        new java.util.ArrayList<>(clusterConfig.getStringList("pekko.cluster.seed-nodes"));
    List<String> live;
    try {
      live = ClusterMembers.recent(stores.redisClient(), java.time.Duration.ofSeconds(30), self);
    } catch (RuntimeException e) {
      log.warn("could not read the cluster's live members from Redis: {}", e.toString());
      return clusterConfig;
    }
    for (String a : live) if (!seeds.contains(a)) seeds.add(a);
    if (seeds.size() == clusterConfig.getStringList("pekko.cluster.seed-nodes").size())
      return clusterConfig;
    log.info("joining through the configured seeds and the live members {}", live);
    return ConfigFactory.parseMap(java.util.Map.of("pekko.cluster.seed-nodes", seeds))
        .withFallback(clusterConfig);
  }

  /**
   * Pekko Management on every JVM, the operator MBeans where a NodeRegistry knows the nodes
   * (coordinators). Neither is needed to compute, so a failure here is a warning, not a failed
   * start.
   */
  private static void startOperatorControl(
      ActorSystem<Void> system, Config config, AnchorNode node) {
    ManagementEndpoint.start(system, config);
    if (node.registry() == null) return;
    try {
      OperatorMBeans mbeans =
          OperatorMBeans.start(
              new ShardedNodeOperations(
                  system,
                  () ->
                      node.registry() == null
                          ? List.of()
                          : node.registry().all().stream().map(h -> h.nodeId()).toList()));
      org.apache.pekko.actor.CoordinatedShutdown.get(system)
          .addTask(
              org.apache.pekko.actor.CoordinatedShutdown.PhaseBeforeServiceUnbind(),
              "operator-mbeans",
              () -> {
                mbeans.close();
                return java.util.concurrent.CompletableFuture.completedFuture(
                    org.apache.pekko.Done.getInstance());
              });
      log.info(
          "operator MBeans registered under {} (and {}:type=Node,name=<nodeId>)",
          OperatorMBeans.clusterName(),
          OperatorMBeans.DOMAIN);
    } catch (RuntimeException e) {
      log.warn("operator MBeans not registered: {}", e.toString());
    }
  }

  private static Exception unwrap(Exception e) {
    Throwable t = e;
    while ((t instanceof java.util.concurrent.CompletionException
            || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof BindException be)
      return new PortTakenException("cannot bind: " + be.getMessage());
    return t instanceof Exception ex ? ex : e;
  }

  static void ensurePortFree(String host, int port, String what) {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(InetAddress.getByName(host), port));
    } catch (IOException e) {
      throw new PortTakenException(what + " " + port + " on " + host + " is already in use");
    }
  }

  private static void fail(String message) {
    System.err.println("anchor: " + message);
    System.err.flush();
    // shutdown hooks stop what was started (an embedded redis-server); halt if they hang
    Thread halt =
        new Thread(
            () -> {
              try {
                Thread.sleep(10_000);
              } catch (InterruptedException ignored) {
                // exiting anyway
              }
              Runtime.getRuntime().halt(2);
            });
    halt.setDaemon(true);
    halt.start();
    System.exit(2);
  }

  static final class PortTakenException extends RuntimeException {
    PortTakenException(String m) {
      super(m);
    }
  }
}
