package dev.anchor.dag;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.anchor.task.TaskSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Map-reduce as a DAG: {@code partitions} map steps {@code map-0 … map-(N-1)}, each seeing its
 * contiguous slice of the input array as {@code input}, and one {@code reduce} step that sees the
 * map results as an array in partition order.
 */
public final class MapReduce {
  public static final String REDUCE = "reduce";
  private static final ObjectMapper JSON = new ObjectMapper();

  private MapReduce() {}

  public static String mapId(int partition) {
    return "map-" + partition;
  }

  /**
   * Slices differ in size by at most one item; with more partitions than items some slices are
   * empty.
   */
  public static DagSpec plan(
      String name,
      ArrayNode items,
      int partitions,
      TaskSpec map,
      TaskSpec reduce,
      int maxParallel) {
    if (partitions < 1) throw new IllegalArgumentException("partitions must be at least 1");
    int n = items.size();
    List<DagStep> steps = new ArrayList<>(partitions + 1);
    List<String> maps = new ArrayList<>(partitions);
    int from = 0;
    for (int p = 0; p < partitions; p++) {
      int size = n / partitions + (p < n % partitions ? 1 : 0);
      ArrayNode slice = JSON.createArrayNode();
      for (int i = from; i < from + size; i++) slice.add(items.get(i));
      from += size;
      String id = mapId(p);
      maps.add(id);
      steps.add(new DagStep(id, List.of(), map, DagStep.InputMode.FIXED, slice.toString()));
    }
    steps.add(new DagStep(REDUCE, maps, reduce, DagStep.InputMode.DEPENDENCY_ARRAY, null));
    return new DagSpec(name, steps, null, DagSpec.FailurePolicy.FAIL_FAST, maxParallel);
  }
}
