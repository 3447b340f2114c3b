package dev.anchor.dag;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Checks a DAG before anything of it runs, and puts its steps in an order where each follows its
 * dependencies.
 */
public final class DagValidator {
  private static final java.util.regex.Pattern ID =
      java.util.regex.Pattern.compile("[A-Za-z0-9_.:-]{1,200}");

  private DagValidator() {}

  /** What is wrong, with the JSON field it concerns and the step ids involved. */
  public record Problem(String error, String field, List<String> ids) {}

  public static Optional<Problem> validate(DagSpec spec, int maxSteps) {
    List<DagStep> steps = spec.steps();
    if (steps.isEmpty()) return problem("a DAG needs at least one task", "tasks", List.of());
    if (steps.size() > maxSteps) {
      return problem(
          "a DAG may have at most " + maxSteps + " tasks, this one has " + steps.size(),
          "tasks",
          List.of());
    }
    Set<String> seen = new HashSet<>();
    Set<String> duplicates = new LinkedHashSet<>();
    for (int i = 0; i < steps.size(); i++) {
      String id = steps.get(i).id();
      if (id == null || id.isBlank())
        return problem("tasks[" + i + "].id is required", "tasks[" + i + "].id", List.of());
      if (!ID.matcher(id).matches()) {
        // ids become part of task ids and URLs
        return problem(
            "tasks["
                + i
                + "].id may hold only letters, digits, '_', '-', '.' and ':' (at most 200)",
            "tasks[" + i + "].id",
            List.of(id));
      }
      if (!seen.add(id)) duplicates.add(id);
    }
    if (!duplicates.isEmpty())
      return problem(
          "duplicate task ids: " + String.join(", ", duplicates), "tasks", List.copyOf(duplicates));
    List<String> selfDependent = new ArrayList<>();
    Set<String> unknown = new LinkedHashSet<>();
    for (DagStep n : steps) {
      for (String d : n.dependencies()) {
        if (d.equals(n.id())) selfDependent.add(n.id());
        else if (!seen.contains(d)) unknown.add(d);
      }
    }
    if (!selfDependent.isEmpty()) {
      return problem(
          "a task cannot depend on itself: " + String.join(", ", selfDependent),
          "dependencies",
          selfDependent);
    }
    if (!unknown.isEmpty()) {
      return problem(
          "dependencies name unknown tasks: " + String.join(", ", unknown),
          "dependencies",
          List.copyOf(unknown));
    }
    List<String> cycle = findCycle(steps);
    if (cycle != null)
      return problem(
          "the dependencies form a cycle: " + String.join(" -> ", cycle), "dependencies", cycle);
    return Optional.empty();
  }

  /**
   * The steps so that each comes after its dependencies, otherwise in the order given. Assumes a
   * valid DAG.
   */
  public static List<DagStep> topologicalOrder(List<DagStep> steps) {
    Map<String, Integer> waiting = new HashMap<>();
    Map<String, List<DagStep>> dependents = new HashMap<>();
    for (DagStep n : steps) {
      waiting.put(n.id(), new HashSet<>(n.dependencies()).size());
      for (String d : new HashSet<>(n.dependencies()))
        dependents.computeIfAbsent(d, k -> new ArrayList<>()).add(n);
    }
    Deque<DagStep> ready = new ArrayDeque<>();
    for (DagStep n : steps) if (waiting.get(n.id()) == 0) ready.add(n);
    List<DagStep> out = new ArrayList<>(steps.size());
    while (!ready.isEmpty()) {
      DagStep n = ready.poll();
      out.add(n);
      for (DagStep m : dependents.getOrDefault(n.id(), List.of())) {
        if (waiting.merge(m.id(), -1, Integer::sum) == 0) ready.add(m);
      }
    }
    if (out.size() != steps.size())
      throw new IllegalArgumentException("the dependencies form a cycle");
    return out;
  }

  /**
   * One cycle as "a, b, a" (a depends on b, b on a), or null; iterative so a 10,000-long chain
   * cannot overflow.
   */
  static List<String> findCycle(List<DagStep> steps) {
    Map<String, DagStep> byId = new HashMap<>();
    for (DagStep n : steps) byId.put(n.id(), n);
    Map<String, Integer> color = new HashMap<>(); // absent white, 1 on the path, 2 done
    for (DagStep start : steps) {
      if (color.containsKey(start.id())) continue;
      Deque<String> path = new ArrayDeque<>();
      Deque<Integer> nextDep = new ArrayDeque<>();
      path.push(start.id());
      nextDep.push(0);
      color.put(start.id(), 1);
      while (!path.isEmpty()) {
        String at = path.peek();
        int i = nextDep.pop();
        List<String> deps = byId.get(at).dependencies();
        if (i >= deps.size()) {
          color.put(at, 2);
          path.pop();
          continue;
        }
        nextDep.push(i + 1);
        String d = deps.get(i);
        Integer c = color.get(d);
        if (c == null) {
          color.put(d, 1);
          path.push(d);
          nextDep.push(0);
        } else if (c == 1) {
          List<String> onPath = new ArrayList<>(path);
          java.util.Collections.reverse(onPath);
          List<String> cycle = new ArrayList<>(onPath.subList(onPath.indexOf(d), onPath.size()));
          cycle.add(d);
          return cycle;
        }
      }
    }
    return null;
  }

  private static Optional<Problem> problem(String error, String field, List<String> ids) {
    return Optional.of(new Problem(error, field, ids));
  }
}
