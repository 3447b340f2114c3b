package dev.anchor.ops;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.anchor.node.NodeEffects;
import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeSettings;
import dev.anchor.node.NodeSpecs;
import dev.anchor.node.NodeView;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * ShardedNodeOperations against the real sharded NodeEntity in a one-member cluster (in-memory
 * journal).
 */
class ShardedNodeOperationsTest {
  private static final NodeSpecs SPECS =
      new NodeSpecs(4, 8192, false, null, List.of("js"), "host-1");
  private static final AtomicInteger ids = new AtomicInteger();

  private static ActorSystem<Void> coordinator;
  private static ActorSystem<Void> workerOnly;
  private static ShardedNodeOperations ops;

  private static Config config(String role, Path snapshots) {
    return ConfigFactory.parseString(
            """
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = 0
        pekko.cluster.roles = [%s]
        pekko.cluster.jmx.enabled = off
        pekko.persistence.journal.plugin = "pekko.persistence.journal.inmem"
        pekko.persistence.snapshot-store.plugin = "pekko.persistence.snapshot-store.local"
        pekko.persistence.snapshot-store.local.dir = "%s"
        pekko.coordinated-shutdown.exit-jvm = off
        pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = off
        """
                .formatted(role, snapshots.toString().replace("\\", "/")))
        .withFallback(ConfigFactory.load())
        .resolve();
  }

  private static ActorSystem<Void> startCluster(String name, String role) throws Exception {
    ActorSystem<Void> system =
        ActorSystem.create(
            Behaviors.empty(), name, config(role, Files.createTempDirectory("ops-snapshots")));
    Cluster cluster = Cluster.get(system);
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (cluster.selfMember().status() != MemberStatus.up() && System.nanoTime() < deadline)
      Thread.sleep(20);
    assertEquals(MemberStatus.up(), cluster.selfMember().status(), name + " did not come up");
    // as AnchorNode does: the entities live on coordinators, other roles get a proxy
    ClusterSharding.get(system)
        .init(
            NodeEntity.entity(NodeSettings.fromConfig(system.settings().config()), NodeEffects.NONE)
                .withRole("coordinator"));
    return system;
  }

  @BeforeAll
  static void start() throws Exception {
    coordinator = startCluster("OpsCoordinator", "coordinator");
    workerOnly = startCluster("OpsWorkerOnly", "worker");
    ops = new ShardedNodeOperations(coordinator, () -> List.of("b", "a", "b"));
  }

  @AfterAll
  static void stop() {
    if (coordinator != null) coordinator.terminate();
    if (workerOnly != null) workerOnly.terminate();
  }

  private static String registered() throws Exception {
    String id = "node-" + ids.incrementAndGet();
    CompletionStage<NodeView> r =
        ClusterSharding.get(coordinator)
            .entityRefFor(NodeEntity.TYPE_KEY, id)
            .askWithStatus(
                replyTo -> new NodeEntity.Register(SPECS, replyTo), Duration.ofSeconds(10));
    assertEquals(NodeView.ONLINE, r.toCompletableFuture().get(15, TimeUnit.SECONDS).status());
    return id;
  }

  private static NodeView await(CompletionStage<NodeView> stage) throws Exception {
    return stage.toCompletableFuture().get(15, TimeUnit.SECONDS);
  }

  private static Throwable failure(CompletionStage<NodeView> stage) {
    ExecutionException e =
        assertThrows(
            ExecutionException.class, () -> stage.toCompletableFuture().get(15, TimeUnit.SECONDS));
    return e.getCause();
  }

  @Test
  void operatorCommandsChangeTheNode() throws Exception {
    String id = registered();
    NodeView cordoned = await(ops.cordon(id));
    assertTrue(cordoned.cordoned());
    assertFalse(cordoned.acceptsTasks());
    assertEquals(NodeView.DRAINING, await(ops.drain(id)).status());
    NodeView back = await(ops.uncordon(id));
    assertEquals(NodeView.ONLINE, back.status());
    assertFalse(back.cordoned());
    assertFalse(await(ops.release(id)).quarantined());
    assertEquals(back, await(ops.get(id)));
  }

  @Test
  void anUnknownNodeFailsWithUnknownNodeExceptionForEveryCommand() {
    for (var op :
        List.<java.util.function.Function<String, CompletionStage<NodeView>>>of(
            ops::drain, ops::cordon, ops::uncordon, ops::release)) {
      UnknownNodeException e =
          assertInstanceOf(UnknownNodeException.class, failure(op.apply("ghost")));
      assertEquals("unknown node ghost", e.getMessage());
      assertEquals("ghost", e.nodeId());
    }
  }

  @Test
  void getOfAnUnknownNodeAnswersStatusUnknown() throws Exception {
    assertEquals(NodeView.UNKNOWN, await(ops.get("never-seen")).status());
  }

  @Test
  void aRefusalInTheNodesStateIsARejectionNotAnUnknownNode() throws Exception {
    String id = registered();
    ClusterSharding.get(coordinator)
        .entityRefFor(NodeEntity.TYPE_KEY, id)
        .tell(new NodeEntity.MarkOffline("test"));
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!NodeView.OFFLINE.equals(await(ops.get(id)).status()) && System.nanoTime() < deadline)
      Thread.sleep(20);
    Throwable t = failure(ops.drain(id));
    NodeOperationRejectedException e = assertInstanceOf(NodeOperationRejectedException.class, t);
    assertTrue(e.getMessage().contains("offline"), e.getMessage());
  }

  @Test
  void noCoordinatorToAnswerIsClusterUnavailable() {
    ShardedNodeOperations noAnswer =
        new ShardedNodeOperations(workerOnly, List::of, Duration.ofMillis(500));
    ClusterUnavailableException e =
        assertInstanceOf(ClusterUnavailableException.class, failure(noAnswer.drain("x")));
    assertTrue(e.getMessage().contains("did not answer"), e.getMessage());
    assertInstanceOf(ClusterUnavailableException.class, failure(noAnswer.get("x")));
  }

  @Test
  void nodeIdsAreSortedAndDistinct() {
    assertEquals(List.of("a", "b"), ops.nodeIds());
  }
}
