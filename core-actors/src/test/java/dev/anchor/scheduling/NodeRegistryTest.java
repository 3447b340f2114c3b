package dev.anchor.scheduling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.task.TaskSpec;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NodeRegistryTest {
  static final long NOW = 1_000_000;

  static NodeHeartbeat hb(
      String id, long ramMb, boolean gpu, List<String> runtimes, int running, int capacity) {
    return new NodeHeartbeat(
        id,
        "pekko://anchor@127.0.0.1:" + id.hashCode(),
        "h",
        4,
        ramMb,
        gpu,
        null,
        runtimes,
        10,
        10,
        1,
        running,
        capacity,
        false,
        NOW);
  }

  static NodeRegistry registry(NodeHeartbeat... nodes) {
    NodeRegistry r = new NodeRegistry(15_000);
    for (NodeHeartbeat n : nodes) {
      r.heartbeat(n);
      r.memberUp(n.address());
    }
    return r;
  }

  static TaskSpec spec(String runtime, double minRamGb, boolean gpu) {
    return new TaskSpec(
        "t",
        null,
        runtime,
        "1",
        null,
        null,
        null,
        null,
        null,
        new TaskSpec.Requirements(minRamGb, gpu),
        null,
        null,
        0);
  }

  static String chosen(NodeRegistry.Choice c) {
    return assertInstanceOf(NodeRegistry.Choice.Chosen.class, c).nodeId();
  }

  @Test
  void requirementsDecideWhichNodesMayRunATask() {
    NodeRegistry r =
        registry(
            hb("small", 1024, false, List.of("js"), 0, 4),
            hb("big", 8192, false, List.of("js", "wasm"), 3, 4),
            hb("gpu", 4096, true, List.of("js"), 3, 4));
    assertEquals("big", chosen(r.choose(spec("js", 6, false), Set.of(), NOW)));
    assertEquals("gpu", chosen(r.choose(spec("js", 0, true), Set.of(), NOW)));
    assertEquals("big", chosen(r.choose(spec("wasm", 0, false), Set.of(), NOW)));
  }

  @Test
  void theLeastLoadedEligibleNodeWinsAndAssignmentsSpreadBetweenHeartbeats() {
    NodeRegistry r =
        registry(
            hb("a", 4096, false, List.of("js"), 2, 4), hb("b", 4096, false, List.of("js"), 0, 4));
    assertEquals("b", chosen(r.choose(spec("js", 0, false), Set.of(), NOW)));
    assertEquals("b", chosen(r.choose(spec("js", 0, false), Set.of(), NOW)));
    // b now has two jobs handed to it since its heartbeat, as many as a runs: the next goes by name
    // order
    assertEquals("a", chosen(r.choose(spec("js", 0, false), Set.of(), NOW)));
  }

  @Test
  void aTaskNoNodeCanTakeSaysWhy() {
    NodeRegistry r = registry(hb("a", 2048, false, List.of("js"), 0, 4));
    assertTrue(
        ((NodeRegistry.Choice.None) r.choose(spec("js", 16, false), Set.of(), NOW))
            .reason()
            .contains("minRam"));
    assertTrue(
        ((NodeRegistry.Choice.None) r.choose(spec("js", 0, true), Set.of(), NOW))
            .reason()
            .contains("GPU"));
    assertTrue(
        ((NodeRegistry.Choice.None) r.choose(spec("native", 0, false), Set.of(), NOW))
            .reason()
            .contains("native"));
    assertTrue(
        ((NodeRegistry.Choice.None)
                new NodeRegistry(15_000).choose(spec("js", 0, false), Set.of(), NOW))
            .reason()
            .contains("no worker"));
  }

  @Test
  void removedDrainingCordonedOrSilentNodesGetNoWork() {
    NodeHeartbeat a = hb("a", 4096, false, List.of("js"), 0, 4);
    NodeRegistry r = registry(a, hb("b", 4096, false, List.of("js"), 3, 4));
    r.memberRemoved(a.address());
    assertFalse(r.isAlive("a"));
    assertEquals("b", chosen(r.choose(spec("js", 0, false), Set.of(), NOW)));
    r.setCordoned("b", true);
    assertInstanceOf(NodeRegistry.Choice.None.class, r.choose(spec("js", 0, false), Set.of(), NOW));
    r.setCordoned("b", false);
    assertInstanceOf(
        NodeRegistry.Choice.None.class, r.choose(spec("js", 0, false), Set.of(), NOW + 60_000));
  }

  @Test
  void anUnreachableNodeGetsNoWorkUntilItAnswersAgain() {
    NodeHeartbeat a = hb("a", 4096, false, List.of("js"), 0, 4);
    NodeRegistry r = registry(a, hb("b", 4096, false, List.of("js"), 3, 4));
    assertEquals(List.of("a"), r.memberUnreachable(a.address()));
    assertFalse(r.isAlive("a"));
    assertEquals("b", chosen(r.choose(spec("js", 0, false), Set.of(), NOW)));
    r.memberUp(a.address()); // a late membership event does not make it reachable
    assertFalse(r.isAlive("a"));
    r.memberReachable(a.address());
    assertTrue(r.isAlive("a"));
    assertEquals("a", chosen(r.choose(spec("js", 0, false), Set.of(), NOW)));
    r.memberRemoved(a.address());
    r.memberReachable(a.address());
    assertFalse(r.isAlive("a"), "a removed member stays gone");
  }

  @Test
  void isolatedVmIsTheJsRuntime() {
    NodeRegistry r = registry(hb("a", 4096, false, List.of("js"), 0, 4));
    assertEquals("a", chosen(r.choose(spec("isolated-vm", 0, false), Set.of(), NOW)));
  }

  @Test
  void aNodesOwnStreamsHoldItsCapacityPlusThePrefetchAndRetriesOnlyItsCapacity() {
    NodeRegistry r = new NodeRegistry(15_000, 2);
    NodeHeartbeat busy = hb("a", 8192, false, List.of("js"), 1, 3);
    r.heartbeat(busy);
    r.memberUp(busy.address());
    assertEquals(5, r.placeLimit("a", false), "capacity 3 + prefetch 2");
    assertEquals(3, r.placeLimit("a", true), "a job run before goes only where a slot is free");
    assertEquals(0, r.placeLimit("unknown", false), "a node never heard from gets nothing pushed");
  }
}
