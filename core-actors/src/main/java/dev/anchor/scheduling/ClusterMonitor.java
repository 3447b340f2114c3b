package dev.anchor.scheduling;

import dev.anchor.node.NodeEntity;
import dev.anchor.node.NodeStatus;
import dev.anchor.queue.Delivery;
import dev.anchor.queue.JobQueue;
import dev.anchor.task.TaskEntity;
import java.util.List;
import java.util.function.Consumer;
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
 * and hands on the jobs of a worker the cluster lost, as soon as the failure detector marks it
 * unreachable rather than when it is downed (seconds later): jobs it had not read go back to their
 * pools, where any fitting node takes them; jobs it had read are run again (their task is told the
 * node is lost, which retries at once, and the old attempt is told to stop, should the node come
 * back). What is still on its streams when it leaves the cluster is handed back the same way.
 */
public final class ClusterMonitor {
  private static final Logger log = LoggerFactory.getLogger(ClusterMonitor.class);

  public sealed interface Msg {}

  private record Heartbeat(NodeHeartbeat hb) implements Msg {}

  private record Membership(ClusterEvent.MemberEvent event) implements Msg {}

  private record Status(NodeStatus status) implements Msg {}

  private record Reachability(ClusterEvent.ReachabilityEvent event) implements Msg {}

  private ClusterMonitor() {}

  public static Behavior<Msg> create(
      NodeRegistry registry,
      JobQueue queue,
      ActorRef<Topic.Command<NodeHeartbeat>> heartbeats,
      ActorRef<Topic.Command<NodeStatus>> statuses,
      Consumer<CancelJob> cancels) {
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
          // members unreachable already are told as events first (typed subscriptions start with
          // the current state as events)
          cluster
              .subscriptions()
              .tell(
                  Subscribe.create(
                      ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class, Reachability::new),
                      ClusterEvent.ReachabilityEvent.class));
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
                  Reachability.class,
                  m -> {
                    Member member = m.event().member();
                    if (member.address().equals(cluster.selfMember().address()))
                      return Behaviors.same();
                    String address = member.address().toString();
                    switch (m.event()) {
                      case ClusterEvent.UnreachableMember u -> {
                        for (String nodeId : registry.memberUnreachable(address))
                          handOn(nodeId, queue, sharding, cancels);
                      }
                      case ClusterEvent.ReachableMember r -> {
                        registry.memberReachable(address);
                        log.info(
                            "member {} is reachable again; its nodes take work again", address);
                      }
                      default -> {}
                    }
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

  /**
   * The node's member is unreachable: everything on its streams is handed on at once (see the class
   * comment). Should it come back (it was frozen, or cut off), its streams hold nothing of this,
   * and the job it was running is stopped by the cancel, or finishes and has its result refused.
   */
  static void handOn(
      String nodeId, JobQueue queue, ClusterSharding sharding, Consumer<CancelJob> cancels) {
    JobQueue.Reclaimed r;
    try {
      r = queue.reclaim(nodeId);
    } catch (RuntimeException e) {
      // what is left is taken over when the node leaves the cluster, and task entities check their
      // node's liveness on their own
      log.warn("could not hand on the jobs of unreachable node {}: {}", nodeId, e.toString());
      return;
    }
    if (r.isEmpty()) {
      log.info("node {} is unreachable; it held no jobs", nodeId);
      return;
    }
    log.warn(
        "node {} is unreachable: {} job(s) it had not read went back to their pools, {} it had"
            + " read run again elsewhere, {} withdrawn to be placed again",
        nodeId,
        r.moved().size(),
        r.running().size(),
        r.withdrawn().size());
    for (Delivery d : r.moved()) {
      sharding
          .entityRefFor(TaskEntity.TYPE_KEY, d.job().taskId())
          .tell(new TaskEntity.Relocated(d.job().attempt(), nodeId, d.parkedFor()));
    }
    for (Delivery d : r.running()) {
      nodeLost(nodeId, d, sharding);
      cancels.accept(new CancelJob(d.job().taskId(), d.job().attempt(), nodeId));
    }
    for (Delivery d : r.withdrawn()) {
      sharding
          .entityRefFor(TaskEntity.TYPE_KEY, d.job().taskId())
          .tell(new TaskEntity.Withdrawn(d.job().attempt(), nodeId));
    }
  }

  private static void nodeLost(String nodeId, Delivery d, ClusterSharding sharding) {
    var task = sharding.entityRefFor(TaskEntity.TYPE_KEY, d.job().taskId());
    task.tell(new TaskEntity.NodeLost(nodeId, d.job().attempt()));
    // a job the node pulled from a pool: if its Started never reached the task, the task still
    // believes it waits in the pool, and is told that place is lost too (naming the attempt, so
    // the retry that the first word made, parked in the same pool, is not taken for it)
    if (d.parkedFor() != null) task.tell(new TaskEntity.NodeLost(d.parkedFor(), d.job().attempt()));
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
    for (Delivery d : left) nodeLost(nodeId, d, sharding);
  }
}
