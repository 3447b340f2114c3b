package dev.anchor.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.app.AppEffects.Placement;
import dev.anchor.app.AppSpec;
import dev.anchor.node.NodeStatus;
import dev.anchor.scheduling.NodeHeartbeat;
import dev.anchor.scheduling.NodeRegistry;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Node selection for apps over a coordinator's registry (no actors: orders are not sent here). */
class ClusterAppEffectsTest {
  private final AtomicLong now = new AtomicLong(1_700_000_000_000L);
  private final NodeRegistry registry = new NodeRegistry(15_000);
  private final ClusterAppEffects fx = new ClusterAppEffects(registry, null, now::get);

  private void node(String id, int cores, long ramMb, List<String> runtimes, boolean draining) {
    String address = "pekko://anchor@10.0.0." + id.hashCode() % 200 + ":2552";
    registry.heartbeat(
        new NodeHeartbeat(
            id,
            address,
            "host-" + id,
            cores,
            ramMb,
            false,
            null,
            runtimes,
            0,
            0,
            1,
            0,
            4,
            draining,
            now.get()));
    registry.memberUp(address);
  }

  private static AppSpec app(long ramMb, double cpu) {
    return AppSpec.hello("a", "Web", 8080, ramMb, cpu, "/");
  }

  private String placed(String appId, AppSpec spec) {
    return assertInstanceOf(Placement.On.class, fx.place(appId, spec, Set.of())).nodeId();
  }

  private String refused(AppSpec spec) {
    return assertInstanceOf(Placement.Nowhere.class, fx.place("x", spec, Set.of())).reason();
  }

  @Test
  void onlyNodesWithTheNativeRuntimeHostApps() {
    node("js-only", 8, 16_000, List.of("js", "wasm"), false);
    assertTrue(refused(app(512, 1)).contains("native"));
    node("full", 8, 16_000, List.of("js", "native", "wasm"), false);
    assertEquals("full", placed("a1", app(512, 1)));
  }

  @Test
  void ramIsReservedByTheAppsOnANodeAndCoresMustExist() {
    node("n1", 4, 4096, List.of("native"), false);
    String first = placed("a1", app(3000, 1));
    fx.holding("a1", first, app(3000, 1));
    assertTrue(refused(app(3000, 1)).contains("RAM"), "RAM is reserved");
    // the app's own reservation does not count against it (re-placing the same app)
    assertEquals("n1", placed("a1", app(3000, 1)));
    assertTrue(refused(app(512, 8)).contains("cores"));
    fx.holding("a1", null, null);
    assertEquals("n1", placed("a2", app(3000, 1)));
  }

  @Test
  void theNodeWithFewerAppsWins() {
    node("n1", 4, 16_000, List.of("native"), false);
    node("n2", 4, 16_000, List.of("native"), false);
    fx.holding("a1", "n1", app(512, 2));
    assertEquals("n2", placed("a2", app(512, 1)));
  }

  @Test
  void drainingCordonedAndQuarantinedNodesAreSkipped() {
    node("draining", 4, 16_000, List.of("native"), true);
    node("cordoned", 4, 16_000, List.of("native"), false);
    node("quarantined", 4, 16_000, List.of("native"), false);
    registry.status(new NodeStatus("cordoned", "Online", true, false, 0.5, false, 0, 0, now.get()));
    registry.status(
        new NodeStatus("quarantined", "Online", false, true, 0.1, false, 0, 0, now.get()));
    assertTrue(refused(app(512, 1)).contains("no worker node"));
    assertTrue(fx.nodeDraining("draining"));
    assertFalse(fx.nodeDraining("cordoned"));
    node("ok", 4, 16_000, List.of("native"), false);
    assertEquals("ok", placed("a1", app(512, 1)));
    assertInstanceOf(Placement.Nowhere.class, fx.place("a1", app(512, 1), Set.of("ok")));
  }

  @Test
  void aNodeIsGoneWhenItsMemberLeftOrItIsUnheardOfLongAfterAStart() {
    node("n1", 4, 16_000, List.of("native"), false);
    assertFalse(fx.nodeGone("n1"));
    registry.memberRemoved("pekko://anchor@10.0.0." + "n1".hashCode() % 200 + ":2552");
    assertTrue(fx.nodeGone("n1"));
    // a coordinator that just started has not heard from every node yet
    assertFalse(fx.nodeGone("never-seen"));
    now.addAndGet(ClusterAppEffects.UNKNOWN_NODE_GRACE_MS + 1);
    assertTrue(fx.nodeGone("never-seen"));
  }
}
