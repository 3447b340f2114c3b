package dev.anchor.queue;

import dev.anchor.CborSerializable;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * How a worker started without {@code ANCHOR_REDIS_URI} learns where the cluster's job queue is:
 * every coordinator (and a standalone) registers a {@link #provider} with the receptionist under
 * {@link #KEY}, and answers {@link Get} with the Redis URI workers should use, password included.
 * The answer travels as a cluster message, so it is as private as the cluster port: encrypted with
 * cluster TLS, in clear without it.
 */
public final class QueueAddress {
  public static final ServiceKey<Get> KEY = ServiceKey.create(Get.class, "anchor-queue-address");

  private QueueAddress() {}

  public record Get(ActorRef<Address> replyTo) implements CborSerializable {}

  /**
   * @param redisUri the URI a worker connects to ({@code redis://:password@host:port})
   * @param reachable empty when workers on other machines can reach it; else what keeps them from
   *     it, in words that tell the operator what to change (the embedded Redis listening on
   *     loopback only)
   */
  public record Address(String redisUri, String reachable) implements CborSerializable {}

  /** Answers every {@link Get} with {@code address}; registers itself under {@link #KEY}. */
  public static Behavior<Get> provider(Address address) {
    return Behaviors.setup(
        ctx -> {
          ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
          return Behaviors.receiveMessage(
              get -> {
                ctx.getLog()
                    .debug("telling {} the queue's address", get.replyTo().path().address());
                get.replyTo().tell(address);
                return Behaviors.same();
              });
        });
  }
}
