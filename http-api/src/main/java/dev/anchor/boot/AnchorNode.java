package dev.anchor.boot;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.adapters.ClusterAppEffects;
import dev.anchor.adapters.QueueTaskEffects;
import dev.anchor.adapters.ShardedDagEffects;
import dev.anchor.adapters.ShardedNodeEffects;
import dev.anchor.app.AppEffects;
import dev.anchor.app.AppEntity;
import dev.anchor.app.AppHost;
import dev.anchor.app.AppIndex;
import dev.anchor.app.AppOrder;
import dev.anchor.app.AppSupervisor;
import dev.anchor.boot.ClusterBootstrapConfig.Role;
import dev.anchor.config.AnchorSettings;
import dev.anchor.consensus.FraudStore;
import dev.anchor.dag.DagEntity;
import dev.anchor.dag.DagSettings;
import dev.anchor.feed.ChangeFeed;
import dev.anchor.feed.StatusCounts;
import dev.anchor.feed.TaskChangeWriter;
import dev.anchor.feed.TaskIndex;
import dev.anchor.http.ApiServices;
import dev.anchor.http.EventFeed;
import dev.anchor.http.Health;
import dev.anchor.http.NodeDirectory;
import dev.anchor.http.TaskQueries;
import dev.anchor.node.NodeEffects;
import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeSettings;
import dev.anchor.node.NodeStatus;
import dev.anchor.persistence.mongo.MongoStore;
import dev.anchor.persistence.mongo.OpenEntities;
import dev.anchor.queue.JobQueue;
import dev.anchor.runtime.Sandbox;
import dev.anchor.runtime.SandboxConfig;
import dev.anchor.scheduling.CancelJob;
import dev.anchor.scheduling.ClusterMembers;
import dev.anchor.scheduling.ClusterMonitor;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.scheduling.NodeRegistry;
import dev.anchor.scheduling.NodeVerdicts;
import dev.anchor.task.OpenTaskReviver;
import dev.anchor.task.TaskEntity;
import dev.anchor.task.TaskSettings;
import dev.anchor.worker.NodeAgent;
import dev.anchor.worker.ResultFault;
import dev.anchor.worker.ScreenService;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;

/** Everything one Anchor JVM runs, wired together for its role. */
public final class AnchorNode {
  private final ActorSystem<?> system;
  private final AnchorSettings settings;
  private final Stores stores;
  private final Role role;
  private final JobQueue queue;
  private final ChangeFeed feed;
  private final NodeRegistry registry;
  private final NodeAgent agent;
  private final TaskIndex index;
  private final FraudStore fraud;
  private final StoreProbes probes;

  private AnchorNode(
      ActorSystem<?> system,
      AnchorSettings settings,
      Stores stores,
      Role role,
      JobQueue queue,
      ChangeFeed feed,
      NodeRegistry registry,
      NodeAgent agent,
      TaskIndex index,
      FraudStore fraud,
      StoreProbes probes) {
    this.probes = probes;
    this.fraud = fraud;
    this.index = index;
    this.system = system;
    this.settings = settings;
    this.stores = stores;
    this.role = role;
    this.queue = queue;
    this.feed = feed;
    this.registry = registry;
    this.agent = agent;
  }

  static AnchorNode start(
      ActorSystem<?> system, AnchorSettings settings, Stores stores, Role role) {
    JobQueue queue = new JobQueue(stores.redisClient());
    ChangeFeed feed = new ChangeFeed(stores.redisClient(), 100_000);
    TaskIndex index = new TaskIndex(stores.redisClient());
    TaskChangeWriter changes =
        new TaskChangeWriter(stores.redisClient(), 100_000, JobQueue.COUNTERS);
    // the state counters of /api/queue/stats live in Redis beside the task index they count; a
    // coordinator
    // recomputes them from that index when they are missing or of an older version (one atomic
    // script)
    StatusCounts counts =
        role.coordinates() ? new StatusCounts(stores.redisClient(), JobQueue.COUNTERS) : null;
    if (counts != null) {
      long counted = counts.rebuild();
      if (counted >= 0)
        org.slf4j.LoggerFactory.getLogger(AnchorNode.class)
            .info("queue statistics rebuilt from the task index ({} tasks)", counted);
      system.getWhenTerminated().thenRun(counts::close);
    }
    var classic = Adapter.toClassic(system);
    ActorRef<Topic.Command<NodeHeartbeat>> heartbeats =
        system.systemActorOf(
            Topic.create(NodeHeartbeat.class, "anchor-node-heartbeats"),
            "node-heartbeats",
            org.apache.pekko.actor.typed.Props.empty());
    ActorRef<Topic.Command<CancelJob>> cancels =
        system.systemActorOf(
            Topic.create(CancelJob.class, "anchor-cancel-job"),
            "cancel-jobs",
            org.apache.pekko.actor.typed.Props.empty());
    ActorRef<Topic.Command<NodeStatus>> statuses =
        system.systemActorOf(
            Topic.create(NodeStatus.class, "anchor-node-status"),
            "node-status",
            org.apache.pekko.actor.typed.Props.empty());
    ActorRef<Topic.Command<AppOrder>> appOrders =
        system.systemActorOf(
            Topic.create(AppOrder.class, "anchor-app-orders"),
            "app-orders",
            org.apache.pekko.actor.typed.Props.empty());
    ClusterSharding sharding = ClusterSharding.get(system);
    var config = system.settings().config();
    // every JVM says it is alive, so a coordinator that restarts finds the running cluster (see
    // AnchorMain)
    var membersConn = stores.redisClient().connect();
    String selfAddress = system.address().toString();
    system
        .scheduler()
        .scheduleAtFixedRate(
            java.time.Duration.ZERO,
            java.time.Duration.ofSeconds(2),
            () -> {
              try {
                ClusterMembers.announce(membersConn, selfAddress);
              } catch (RuntimeException e) {
                // Redis away: the next tick tries again
              }
            },
            system.executionContext());
    system.getWhenTerminated().thenRun(membersConn::close);

    NodeRegistry registry = null;
    FraudStore fraud = null;
    StoreProbes probes = null;
    if (role.coordinates()) {
      registry =
          new NodeRegistry(
              15_000,
              config.hasPath("anchor.worker.prefetch")
                  ? config.getInt("anchor.worker.prefetch")
                  : 2);
      dev.anchor.ops.Metrics.registerCoordinator(queue, registry, counts);
      MongoStore mongo = MongoStore.get(system);
      java.time.Duration retention = config.getDuration("anchor.verification.fraud-retention");
      fraud =
          mongo.embedded().isPresent()
              ? FraudStore.onEmbeddedStore(mongo.database(), retention)
              : new FraudStore(mongo.database(), retention);
      QueueTaskEffects effects =
          new QueueTaskEffects(
                  registry,
                  queue,
                  changes,
                  c -> cancels.tell(Topic.publish(c)),
                  new ObjectMapper(),
                  10_000,
                  v -> DagEntity.forwardEnded(sharding, v))
              .withConsensus(
                  new QueueTaskEffects.Consensus(
                      new NodeVerdicts(sharding),
                      fraud,
                      config.getDouble("anchor.verification.spot-check-fraction")));
      // workers started without ANCHOR_REDIS_URI ask here where the queue is (QueueAddress)
      system.systemActorOf(
          dev.anchor.queue.QueueAddress.provider(stores.workerAddress()),
          "queue-address",
          org.apache.pekko.actor.typed.Props.empty());
      FraudStore store = fraud;
      // the embedded MongoDB-wire server has no TTL index, and a real one's TTL monitor runs only
      // once a minute
      system
          .scheduler()
          .scheduleWithFixedDelay(
              java.time.Duration.ofMinutes(1),
              java.time.Duration.ofMinutes(10),
              () -> {
                try {
                  store.deleteExpired(System.currentTimeMillis());
                } catch (RuntimeException e) {
                  org.slf4j.LoggerFactory.getLogger(AnchorNode.class)
                      .warn("fraud record expiry failed: {}", e.toString());
                }
              },
              system.executionContext());
      system.systemActorOf(
          ClusterMonitor.create(
              registry, queue, heartbeats, statuses, c -> cancels.tell(Topic.publish(c))),
          "cluster-monitor",
          org.apache.pekko.actor.typed.Props.empty());
      scheduleRetention(system, stores, config);
      Runnable restoreIndex = indexRestorer(system, stores, changes, config);
      restoreIndex.run();
      // no remember-entities for tasks (two journal writes per task, and new entities wait for
      // them): the journal's
      // open markers say which tasks to start again, and a task passivates itself when it ends
      sharding.init(
          TaskEntity.entity(effects, TaskSettings.fromConfig(system.settings().config()))
              .withSettings(
                  ClusterShardingSettings.create(system)
                      .withRememberEntities(false)
                      .withNoPassivationStrategy())
              .withRole("coordinator"));
      OpenEntities open = OpenEntities.of(system);
      ActorRef<Object> reviver =
          system.systemActorOf(
              OpenTaskReviver.create(
                  new OpenTaskReviver.OpenMarkers() {
                    @Override
                    public java.util.List<String> open(String prefix) {
                      return open.list(prefix);
                    }

                    @Override
                    public void forget(java.util.List<String> persistenceIds) {
                      open.forget(persistenceIds);
                    }

                    @Override
                    public void compact() {
                      open.compact();
                    }
                  },
                  id ->
                      sharding
                          .entityRefFor(TaskEntity.TYPE_KEY, id)
                          .<Boolean>ask(TaskEntity.Wake::new, java.time.Duration.ofSeconds(30)),
                  id ->
                      sharding
                          .entityRefFor(TaskEntity.TYPE_KEY, id)
                          .<Boolean>ask(TaskEntity.CheckJob::new, java.time.Duration.ofSeconds(30)),
                  system
                      .dispatchers()
                      .lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking()),
                  java.time.Duration.ofSeconds(2),
                  java.time.Duration.ofMinutes(5),
                  "coordinator"),
              "open-task-reviver",
              org.apache.pekko.actor.typed.Props.empty());
      // cached store checks for /health and the submit routes; a Redis that comes back (or
      // restarted between two
      // checks) may have lost its last second of writes: every open task checks its job against the
      // journal
      StoreProbes p =
          new StoreProbes(
              stores,
              MongoStore.get(system),
              config.getDuration("anchor.health.probe-interval"),
              config.getDuration("anchor.health.probe-timeout"),
              why -> {
                reviver.tell(new OpenTaskReviver.CheckJobs(why));
                restoreIndex.run();
              });
      system.getWhenTerminated().thenRun(p::close);
      probes = p;
      ChaosSwitch chaos =
          ChaosSwitch.startIfEnabled(
              config.getBoolean("anchor.chaos.enabled"),
              settings.dataDir(),
              MongoStore.get(system).embedded());
      if (chaos != null) system.getWhenTerminated().thenRun(chaos::close);
    } else {
      // a worker only sends to task entities: a proxy to the coordinators' shards
      sharding.init(TaskEntity.entity(null, TaskSettings.defaults()).withRole("coordinator"));
    }

    // DAGs run on coordinators; every role's HTTP API reaches them through the shard (a proxy where
    // nothing runs)
    DagSettings dagSettings = DagSettings.fromConfig(system.settings().config());
    sharding.init(
        DagEntity.entity(
                role.coordinates()
                    ? new ShardedDagEffects(sharding, feed, dagSettings.effectTimeout(), counts)
                    : null,
                dagSettings)
            .withRole("coordinator"));

    // apps (/api/clusters) are entities on coordinators like tasks; workers send their reports
    // through a proxy
    AppEffects appEffects =
        role.coordinates()
            ? new ClusterAppEffects(registry, appOrders, System::currentTimeMillis).withFeed(feed)
            : AppEffects.NONE;
    sharding.init(
        AppEntity.entity(appEffects, config.getDuration("anchor.apps.reconcile-interval"))
            .withRole("coordinator"));

    sharding.init(
        NodeEntity.entity(
                NodeSettings.fromConfig(config),
                role.coordinates()
                    ? new ShardedNodeEffects(statuses, queue, feed, sharding)
                    : NodeEffects.NONE)
            .withRole("coordinator"));

    NodeAgent agent = null;
    if (role.works()) {
      // a mistyped chaos setting stops the start before the worker takes any job
      ResultFault fault = ResultFault.parse(config.getString("anchor.worker.fault"));
      int clusterPort = system.address().getPort().map(p -> (Integer) p).orElse(0);
      String nodeId = NodeAgent.defaultNodeId(settings.nodeName(), clusterPort);
      SandboxConfig sandboxConfig = SandboxConfig.defaults();
      int jsWorkers = config.getInt("anchor.worker.js-workers");
      if (jsWorkers > 0) {
        sandboxConfig =
            sandboxConfig.withJs(
                sandboxConfig.jsIsolation(),
                jsWorkers,
                sandboxConfig.jsHeapHeadroomMb(),
                sandboxConfig.jsWarmup());
      }
      Sandbox sandbox = Sandbox.start(sandboxConfig);
      int capacity = Math.max(1, system.settings().config().getInt("anchor.worker.capacity"));
      ScreenService screen = ScreenService.start(nodeId, captureSettings(config));
      system.systemActorOf(screen.behavior(), "screen", org.apache.pekko.actor.typed.Props.empty());
      system.getWhenTerminated().thenRun(screen::close);
      agent =
          NodeAgent.start(
              system,
              nodeId,
              queue,
              sandbox,
              capacity,
              system.settings().config().getDuration("anchor.worker.default-timeout").toMillis(),
              system.settings().config().getLong("anchor.worker.memory-mb"),
              heartbeats,
              screen.status());
      NodeAgent a = agent;
      dev.anchor.ops.Metrics.registerWorker(nodeId, a::runningJobs, capacity);
      ActorRef<CancelJob> cancelListener =
          system.systemActorOf(
              Behaviors.receive(CancelJob.class)
                  .onMessage(
                      CancelJob.class,
                      c -> {
                        a.onCancel(c);
                        return Behaviors.same();
                      })
                  .build(),
              "cancel-listener",
              org.apache.pekko.actor.typed.Props.empty());
      cancels.tell(Topic.subscribe(cancelListener));
      agent.injectFault(fault);
      ActorRef<NodeStatus> statusListener =
          system.systemActorOf(
              Behaviors.receive(NodeStatus.class)
                  .onMessage(
                      NodeStatus.class,
                      st -> {
                        a.onStatus(st);
                        return Behaviors.same();
                      })
                  .build(),
              "node-status-listener",
              org.apache.pekko.actor.typed.Props.empty());
      statuses.tell(Topic.subscribe(statusListener));
      system.getWhenTerminated().thenRun(sandbox::close);
      AppHost apps =
          AppHost.start(
              system,
              nodeId,
              system.address().getHost().orElse("127.0.0.1"),
              AppSupervisor.Settings.defaults(
                  sandboxConfig.nodeCommand(),
                  sandboxConfig.npmCommand(),
                  sandboxConfig.npmCacheDir(),
                  sandboxConfig
                      .workDir()
                      .resolve("apps")
                      .resolve(nodeId.replaceAll("[^A-Za-z0-9._-]", "_"))),
              config.getBoolean("anchor.apps.enabled"),
              config.getBoolean("anchor.apps.allow-commands"));
      ActorRef<AppOrder> appListener =
          system.systemActorOf(
              Behaviors.receive(AppOrder.class)
                  .onMessage(
                      AppOrder.class,
                      o -> {
                        apps.onOrder(o);
                        return Behaviors.same();
                      })
                  .build(),
              "app-order-listener",
              org.apache.pekko.actor.typed.Props.empty());
      appOrders.tell(Topic.subscribe(appListener));
      system.getWhenTerminated().thenRun(apps::close);
      // a leaving worker finishes its running jobs (up to 30 s) before it leaves the cluster
      org.apache.pekko.actor.CoordinatedShutdown.get(classic)
          .addTask(
              org.apache.pekko.actor.CoordinatedShutdown.PhaseBeforeClusterShutdown(),
              "drain-worker",
              () ->
                  java.util.concurrent.CompletableFuture.supplyAsync(
                      () -> {
                        apps.close(); // its apps' process groups are killed; their entities move
                        // them to other nodes
                        boolean downed =
                            org.apache.pekko.actor.CoordinatedShutdown.get(classic)
                                .getShutdownReason()
                                .filter(
                                    org.apache.pekko.actor.CoordinatedShutdown
                                            .clusterDowningReason()
                                        ::equals)
                                .isPresent();
                        if (downed)
                          a.abandon(); // its jobs run elsewhere already: nothing to wait for
                        else a.close();
                        return org.apache.pekko.Done.getInstance();
                      }));
    }
    return new AnchorNode(
        system, settings, stores, role, queue, feed, registry, agent, index, fraud, probes);
  }

  /**
   * anchor.capture.*: ANCHOR_CAPTURE, ANCHOR_DISPLAY / DISPLAY, ANCHOR_XVFB (1/on/true),
   * ANCHOR_XVFB_SIZE (WxH).
   */
  static ScreenService.Settings captureSettings(com.typesafe.config.Config config) {
    boolean enabled = truthy(config.getString("anchor.capture.enabled"));
    boolean xvfb = truthy(config.getString("anchor.capture.xvfb"));
    String size = config.getString("anchor.capture.xvfb-size").trim();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(\\d{2,5})x(\\d{2,5})").matcher(size);
    if (!m.matches())
      throw new IllegalArgumentException(
          "ANCHOR_XVFB_SIZE must be WIDTHxHEIGHT, not '" + size + "'");
    return new ScreenService.Settings(
        enabled,
        config.getString("anchor.capture.display"),
        xvfb,
        Integer.parseInt(m.group(1)),
        Integer.parseInt(m.group(2)));
  }

  private static boolean truthy(String v) {
    String s = v.trim().toLowerCase(java.util.Locale.ROOT);
    return s.equals("1") || s.equals("on") || s.equals("true") || s.equals("yes");
  }

  public ActorSystem<?> system() {
    return system;
  }

  public String nodeId() {
    return agent == null ? system.address().toString() : agent.nodeId();
  }

  public JobQueue queue() {
    return queue;
  }

  private dev.anchor.feed.FeedFanout fanout;

  /**
   * The change feed's one reader in this JVM, shared by every event-stream client; started by the
   * first client, so a node nobody watches reads nothing.
   */
  public synchronized dev.anchor.feed.FeedFanout fanout() {
    if (fanout == null) {
      dev.anchor.feed.FeedFanout f =
          new dev.anchor.feed.FeedFanout(
              feed,
              stores.redisClient(),
              system
                  .dispatchers()
                  .lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking()),
              10_000);
      system.getWhenTerminated().thenRun(f::close);
      fanout = f;
    }
    return fanout;
  }

  public ChangeFeed feed() {
    return feed;
  }

  public TaskIndex index() {
    return index;
  }

  /** The fraud evidence store; null where this JVM does not coordinate. */
  public FraudStore fraud() {
    return fraud;
  }

  public NodeRegistry registry() {
    return registry;
  }

  public Stores stores() {
    return stores;
  }

  /**
   * What the HTTP routes call, each part a narrow view of this node: the routes never see the node
   * itself.
   */
  public ApiServices apiServices() {
    AppIndex apps = new AppIndex(stores.redisClient());
    system.getWhenTerminated().thenRun(apps::close);
    return new ApiServices(
        this::refusal,
        new EventFeed() {
          @Override
          public String lastId() {
            return feed.lastId();
          }

          @Override
          public dev.anchor.feed.FeedFanout fanout() {
            return AnchorNode.this.fanout();
          }
        },
        new TaskQueries() {
          @Override
          public java.util.List<String> newest(
              int limit, java.util.function.Predicate<String> accept) {
            return index.newest(limit, accept);
          }

          @Override
          public dev.anchor.queue.QueueStats queueStats() {
            return queue.stats();
          }

          @Override
          public CompletionStage<Long> openTasks() {
            return queue.openTasks();
          }
        },
        registry == null ? NodeDirectory.NONE : nodeDirectory(registry),
        fraud,
        apps,
        this::health);
  }

  private static NodeDirectory nodeDirectory(NodeRegistry registry) {
    return new NodeDirectory() {
      @Override
      public java.util.Collection<dev.anchor.scheduling.NodeHeartbeat> heardFrom() {
        return registry.all();
      }

      @Override
      public java.util.Collection<NodeStatus> statuses() {
        return registry.statuses();
      }

      @Override
      public java.util.Optional<NodeStatus> status(String nodeId) {
        return registry.status(nodeId);
      }

      @Override
      public boolean isAlive(String nodeId) {
        return registry.isAlive(nodeId);
      }
    };
  }

  /**
   * The node's health from the cached store probes and the cluster's in-memory state: answered at
   * once whatever is down, so load balancers and probes can act (a synchronous ping of a dead store
   * waits for its driver's timeouts).
   */
  public CompletionStage<Health> health() {
    long now = System.currentTimeMillis();
    Map<String, Object> store = new LinkedHashMap<>();
    boolean mongoOk = true;
    if (role.coordinates()) {
      StoreProbes.Probe m = probes.mongo();
      mongoOk = m.ok();
      store.put("mongo", MongoStore.get(system).description());
      store.put("status", mongoOk ? "ok" : "unreachable");
      if (!mongoOk) {
        store.put("error", m.error());
        store.put("downForMs", now - m.sinceMs());
      }
      store.put("checkedMsAgo", now - m.checkedAtMs());
    }
    Map<String, Object> q = new LinkedHashMap<>();
    StoreProbes.Probe r = probes == null ? null : probes.redis();
    boolean redisOk = r == null ? stores.redisHealthy() : r.ok();
    q.put("redis", redact(stores.redisUri()));
    q.put("status", redisOk ? "ok" : "unreachable");
    if (r != null && !redisOk) {
      q.put("error", r.error());
      q.put("downForMs", now - r.sinceMs());
    }
    if (r != null) q.put("checkedMsAgo", now - r.checkedAtMs());
    if (stores.embeddedRedis() != null) {
      q.put(
          "embedded",
          Map.of(
              "pid", stores.embeddedRedis().pid(), "restarts", stores.embeddedRedis().restarts()));
    }
    Map<String, Object> cl = new LinkedHashMap<>();
    Cluster cluster = Cluster.get(system);
    boolean up = cluster.selfMember().status() == MemberStatus.up();
    cl.put("self", cluster.selfMember().address().toString());
    cl.put("status", cluster.selfMember().status().toString());
    cl.put("members", cluster.state().getMembers().spliterator().getExactSizeIfKnown());
    boolean healthy = mongoOk && redisOk && up;
    java.util.List<String> unhealthy = new java.util.ArrayList<>();
    if (!mongoOk) unhealthy.add("store");
    if (!redisOk) unhealthy.add("queue");
    if (!up) unhealthy.add("cluster");
    return CompletableFuture.completedFuture(
        new Health(
            healthy ? "ok" : "degraded",
            healthy,
            role.name().toLowerCase(),
            nodeId(),
            unhealthy,
            store,
            q,
            cl));
  }

  /**
   * Why this node cannot take a submission now (a store it must write to is unreachable, as last
   * probed), or null. Checked before a task or DAG is submitted, so the client gets a quick 503
   * instead of waiting out journal or Redis timeouts.
   */
  public String refusal() {
    if (probes == null) return null;
    if (!probes.mongo().ok())
      return "the journal (MongoDB) is unreachable: " + probes.mongo().error();
    if (!probes.redis().ok())
      return "the job queue (Redis) is unreachable: " + probes.redis().error();
    return null;
  }

  static String redact(String uri) {
    return uri.replaceAll("//[^@/]*@", "//***@");
  }

  /**
   * Puts the task listing back from the journal if Redis lost it (at start, and each time Redis
   * comes back): one restore at a time, off the actor threads, as many tasks as retention keeps.
   */
  private static Runnable indexRestorer(
      ActorSystem<?> system,
      Stores stores,
      TaskChangeWriter changes,
      com.typesafe.config.Config config) {
    var c = config.getConfig("anchor.retention");
    long keep = c.getLong("completed-count") + c.getLong("failed-count");
    var restore =
        new dev.anchor.feed.TaskIndexRestore(
            stores.redisClient(),
            changes,
            dev.anchor.persistence.mongo.JournalScan.of(system)::latestFirst,
            (int) Math.min(Integer.MAX_VALUE - 1, keep));
    system.getWhenTerminated().thenRun(restore::close);
    var log = org.slf4j.LoggerFactory.getLogger(AnchorNode.class);
    var running = new java.util.concurrent.atomic.AtomicBoolean();
    Runnable[] self = new Runnable[1];
    self[0] =
        () -> {
          if (!running.compareAndSet(false, true)) return;
          Thread.ofPlatform()
              .daemon()
              .name("anchor-index-restore")
              .start(
                  () -> {
                    try {
                      long t0 = System.currentTimeMillis();
                      var r = restore.restoreIfLost();
                      if (r != null)
                        log.info(
                            "task listing restored from the journal: {} tasks read, {} entries put back in {} ms",
                            r.read(),
                            r.putBack(),
                            System.currentTimeMillis() - t0);
                    } catch (RuntimeException e) {
                      log.warn(
                          "could not restore the task listing from the journal (trying again in 30 s): {}",
                          e.toString());
                      system
                          .scheduler()
                          .scheduleOnce(
                              java.time.Duration.ofSeconds(30),
                              () -> self[0].run(),
                              system.executionContext());
                    } finally {
                      running.set(false);
                    }
                  });
        };
    return self[0];
  }

  /**
   * Trims ended tasks from Redis's listing (anchor.retention) every interval, off the actor
   * threads; each coordinator runs it (the script is atomic and repeating it is harmless), so it
   * survives the loss of any one.
   */
  private static void scheduleRetention(
      ActorSystem<?> system, Stores stores, com.typesafe.config.Config config) {
    var c = config.getConfig("anchor.retention");
    dev.anchor.feed.TaskRetention retention =
        new dev.anchor.feed.TaskRetention(
            stores.redisClient(),
            JobQueue.COUNTERS,
            JobQueue.DEAD_LETTER,
            new dev.anchor.feed.TaskRetention.Limits(
                c.getDuration("completed-age"),
                c.getLong("completed-count"),
                c.getDuration("failed-age"),
                c.getLong("failed-count"),
                c.getInt("batch")));
    var log = org.slf4j.LoggerFactory.getLogger(AnchorNode.class);
    java.time.Duration every = c.getDuration("interval");
    system
        .scheduler()
        .scheduleWithFixedDelay(
            java.time.Duration.ofSeconds(5),
            every,
            () -> {
              try {
                var t = retention.trim(System.currentTimeMillis());
                if (t.completed() + t.failed() > 0) {
                  log.debug(
                      "retention: {} completed and {} failed/cancelled tasks left the listing",
                      t.completed(),
                      t.failed());
                }
              } catch (RuntimeException e) {
                log.warn("task retention failed (tried again in {}): {}", every, e.toString());
              }
            },
            system
                .dispatchers()
                .lookup(org.apache.pekko.actor.typed.DispatcherSelector.blocking()));
    system.getWhenTerminated().thenRun(retention::close);
  }
}
