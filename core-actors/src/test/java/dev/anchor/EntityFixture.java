package dev.anchor;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The actor system of one entity test class, set up as every entity test needs it: the in-memory
 * journal of {@link EventSourcedBehaviorTestKit}, a free remoting port and no JVM exit at shutdown
 * (other builds share the machine), and reply timeouts a loaded 2-core CI machine meets (seen: a
 * Get after 80 s of manual time missed 3 s). Stopped after the class also when a test fails.
 *
 * <pre>{@code
 * @RegisterExtension static final EntityFixture entities = EntityFixture.named("TaskEntityTest");
 * ...
 * var task = entities.testKit(TaskEntity.create(...));
 * }</pre>
 */
public final class EntityFixture implements BeforeAllCallback, AfterAllCallback {
  private final String name;
  private final boolean manualTime;
  private ActorTestKit kit;

  private EntityFixture(String name, boolean manualTime) {
    this.name = name;
    this.manualTime = manualTime;
  }

  public static EntityFixture named(String name) {
    return new EntityFixture(name, false);
  }

  /** Scheduled timers move only when the test advances {@link #manualTime()}. */
  public EntityFixture withManualTime() {
    return new EntityFixture(name, true);
  }

  static Config config(boolean manualTime) {
    Config own =
        ConfigFactory.parseString(
            """
            pekko.actor.testkit.typed.single-expect-default = 15s
            pekko.remote.artery.canonical.port = 0
            pekko.coordinated-shutdown.exit-jvm = off
            """);
    if (manualTime) own = own.withFallback(ManualTime.config());
    return own.withFallback(EventSourcedBehaviorTestKit.config())
        .withFallback(ConfigFactory.load());
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    kit = ActorTestKit.create(name, config(manualTime));
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (kit != null) kit.shutdownTestKit();
    kit = null;
  }

  public ActorTestKit kit() {
    return kit;
  }

  public ActorSystem<Void> system() {
    return kit.system();
  }

  public ManualTime manualTime() {
    if (!manualTime) throw new IllegalStateException(name + " runs on real time");
    return ManualTime.get(kit.system());
  }

  /** A fresh test kit around one entity's behaviour, journaling in memory. */
  public <C, E, S> EventSourcedBehaviorTestKit<C, E, S> testKit(Behavior<C> entity) {
    return EventSourcedBehaviorTestKit.create(kit.system(), entity);
  }
}
