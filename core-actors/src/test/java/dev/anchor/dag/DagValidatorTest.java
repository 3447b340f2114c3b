package dev.anchor.dag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anchor.task.TaskSpec;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DagValidatorTest {
  private static final TaskSpec T = TaskSpec.of("t", "js", "1");

  static DagStep step(String id, String... deps) {
    return DagStep.of(id, List.of(deps), T);
  }

  static DagValidator.Problem problem(int max, DagStep... steps) {
    return DagValidator.validate(new DagSpec("d", List.of(steps), null, null, 0), max)
        .orElseThrow();
  }

  @Test
  void theReferenceDagIsValidAndOrderedAfterItsDependencies() {
    List<DagStep> steps =
        List.of(
            step("aggregate", "process_1", "process_2"),
            step("process_2", "fetch"),
            step("process_1", "fetch"),
            step("fetch"));
    assertTrue(DagValidator.validate(new DagSpec("d", steps, null, null, 0), 100).isEmpty());
    List<String> order = DagValidator.topologicalOrder(steps).stream().map(DagStep::id).toList();
    assertEquals(List.of("fetch", "process_2", "process_1", "aggregate"), order);
  }

  @Test
  void aCycleIsNamedNodeByNode() {
    DagValidator.Problem p =
        problem(100, step("root"), step("a", "root", "b"), step("b", "c"), step("c", "a"));
    assertTrue(p.error().contains("a -> b -> c -> a"), p.error());
    assertEquals(List.of("a", "b", "c", "a"), p.ids());
    assertEquals("dependencies", p.field());
  }

  @Test
  void aTwoNodeCycle() {
    DagValidator.Problem p = problem(100, step("a", "b"), step("b", "a"));
    assertTrue(p.error().contains("a -> b -> a"), p.error());
  }

  @Test
  void unknownDependenciesAreNamed() {
    DagValidator.Problem p = problem(100, step("a"), step("b", "a", "ghost"), step("c", "phantom"));
    assertEquals(List.of("ghost", "phantom"), p.ids());
  }

  @Test
  void duplicateIdsAreNamed() {
    DagValidator.Problem p = problem(100, step("a"), step("b"), step("a"));
    assertEquals(List.of("a"), p.ids());
    assertEquals("tasks", p.field());
  }

  @Test
  void aSelfDependencyIsRefused() {
    DagValidator.Problem p = problem(100, step("a"), step("b", "b"));
    assertEquals(List.of("b"), p.ids());
  }

  @Test
  void anEmptyGraphIsRefused() {
    DagValidator.Problem p = problem(100);
    assertEquals("tasks", p.field());
    assertTrue(p.error().contains("at least one"), p.error());
  }

  @Test
  void moreNodesThanTheOperatorAllowsIsRefused() {
    List<DagStep> steps = new ArrayList<>();
    for (int i = 0; i < 11; i++) steps.add(step("n" + i));
    DagValidator.Problem p =
        DagValidator.validate(new DagSpec("d", steps, null, null, 0), 10).orElseThrow();
    assertTrue(p.error().contains("at most 10"), p.error());
    assertTrue(
        DagValidator.validate(new DagSpec("d", steps.subList(0, 10), null, null, 0), 10).isEmpty());
  }

  @Test
  void idsThatCannotBePartOfATaskIdAreRefused() {
    DagValidator.Problem p = problem(100, step("a/b"));
    assertEquals("tasks[0].id", p.field());
  }

  @Test
  void aLongChainIsCheckedWithoutOverflowingTheStack() {
    List<DagStep> steps = new ArrayList<>();
    steps.add(step("n0", "n9999"));
    for (int i = 1; i < 10_000; i++) steps.add(step("n" + i, "n" + (i - 1)));
    DagValidator.Problem p =
        DagValidator.validate(new DagSpec("d", steps, null, null, 0), 10_000).orElseThrow();
    assertEquals(10_001, p.ids().size());
  }
}
