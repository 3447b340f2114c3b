package dev.anchor.scheduling;

import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeStatus;
import dev.anchor.queue.Delivery;
import dev.anchor.queue.JobQueue;
import dev.anchor.task.TaskEntity;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a coordinator's {@link NodeRegistry} current from worker heartbeats and cluster membership,
 * and takes over the jobs of a worker that left: everything still on its streams goes back to its
 * task entity as "node lost", which retries it on another node.
 */
public final class ClusterMonitor {
  private static final Logger log = LoggerFactory.getLogger(ClusterMonitor.class);

  public sealed interface Msg {}

  private record Heartbeat(NodeHeartbeat hb) implements Msg {}

  private record Membership(ClusterEvent.MemberEvent event) implements Msg {}

  private record Status(NodeStatus status) implements Msg {}

  private ClusterMonitor() {}

  public static Behavior<Msg> create(
      NodeRegistry registry,
      JobQueue queue,
      ActorRef<Topic.Command<NodeHeartbeat>> heartbeats,
      ActorRef<Topic.Command<NodeStatus>> statuses) {
    return Behaviors.setup(
        ctx -> {
          ActorRef<NodeHeartbeat> hbAdapter =
              ctx.messageAdapter(NodeHeartbeat.class, Heartbeat::new);
          heartbeats.tell(Topic.subscribe(hbAdapter));
          statuses.tell(Topic.subscribe(ctx.messageAdapter(NodeStatus.class, Status::new)));
          Cluster cluster = Cluster.get(ctx.getSystem());
          cluster
              .subscriptions()
              .tell(
                  Subscribe.create(
                      ctx.messageAdapter(ClusterEvent.MemberEvent.class, Membership::new),
                      ClusterEvent.MemberEvent.class));
          for (Member m : cluster.state().getMembers()) {
            if (m.status() == MemberStatus.up() || m.status() == MemberStatus.weaklyUp())
              registry.memberUp(m.address().toString());
          }
          ClusterSharding sharding = ClusterSharding.get(ctx.getSystem());
          return Behaviors.receive(Msg.class)
              .onMessage(
                  Heartbeat.class,
                  m -> {
                    registry.heartbeat(m.hb());
                    return Behaviors.same();
                  })
              .onMessage(
                  Status.class,
                  m -> {
                    registry.status(m.status());
                    return Behaviors.same();
                  })
              .onMessage(
                  Membership.class,
                  m -> {
                    Member member = m.event().member();
                    String address = member.address().toString();
                    switch (m.event()) {
                      case ClusterEvent.MemberUp up -> registry.memberUp(address);
                      case ClusterEvent.MemberWeaklyUp up -> registry.memberUp(address);
                      case ClusterEvent.MemberRemoved removed -> {
                        List<String> gone = registry.memberRemoved(address);
                        // this JVM leaving is a shutdown, not a lost node: its jobs stay pending
                        // for its restart or its peers
                        if (!member.address().equals(cluster.selfMember().address())) {
                          for (String nodeId : gone) {
                            sharding
                                .entityRefFor(NodeEntity.TYPE_KEY, nodeId)
                                .tell(new NodeEntity.MarkOffline("left the cluster"));
                            takeOver(nodeId, queue, sharding);
                          }
                        }
                      }
                      default -> {}
                    }
                    return Behaviors.same();
                  })
              .build();
        });
  }

  static void takeOver(String nodeId, JobQueue queue, ClusterSharding sharding) {
    List<Delivery> left;
    try {
      left = queue.takeAll(nodeId);
    } catch (RuntimeException e) {
      // task entities also check their node's liveness on their own, so the jobs are not stranded
      log.warn("could not take over the jobs of node {}: {}", nodeId, e.toString());
      return;
    }
    log.warn(
        "node {} left the cluster; moving its {} queued/running job(s) to other nodes",
        nodeId,
        left.size());
    for (Delivery d : left) {
      var task = sharding.entityRefFor(TaskEntity.TYPE_KEY, d.job().taskId());
      task.tell(new TaskEntity.NodeLost(nodeId));
      // a job the node pulled from a pool: if its Started never reached the task, the task still
      // believes it waits in the pool, and is told that place is lost too
      if (d.parkedFor() != null) task.tell(new TaskEntity.NodeLost(d.parkedFor()));
    }
  }
}
