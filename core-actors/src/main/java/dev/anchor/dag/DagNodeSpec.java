package dev.anchor.dag;

import dev.anchor.CborSerializable;
import dev.anchor.task.TaskSpec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One node of a DAG: the task it runs and the nodes whose results it waits for.
 *
 * @param dependencies ids of nodes that must complete first, in the order their results are handed
 *     over
 * @param inputMode what the node's code sees as {@code input}
 * @param fixedInputJson the node's own input when {@code inputMode} is {@link InputMode#FIXED},
 *     else null
 */
public record DagNodeSpec(
    String id, List<String> dependencies, TaskSpec task, InputMode inputMode, String fixedInputJson)
    implements CborSerializable {

  public DagNodeSpec {
    dependencies =
        dependencies == null
            ? List.of()
            : Collections.unmodifiableList(new ArrayList<>(dependencies));
    inputMode = inputMode == null ? InputMode.BY_DEPENDENCY : inputMode;
  }

  /**
   * The runtime of a node given without a payload (the reference system's DAG example has none): a
   * pass-through step, run by the DAG entity itself without a task, whose result is its input.
   */
  public static final String PASS_THROUGH = "pass-through";

  public boolean passThrough() {
    return task != null && PASS_THROUGH.equals(task.runtime());
  }

  public static DagNodeSpec of(String id, List<String> dependencies, TaskSpec task) {
    return new DagNodeSpec(id, dependencies, task, InputMode.BY_DEPENDENCY, null);
  }

  public enum InputMode {
    /**
     * An object keyed by dependency id holding each dependency's result; a root node sees the DAG's
     * input.
     */
    BY_DEPENDENCY,
    /** The node's own {@code fixedInputJson} (a map-reduce partition's slice). */
    FIXED,
    /** An array of the dependencies' results in dependency order (a map-reduce reduce step). */
    DEPENDENCY_ARRAY
  }
}
