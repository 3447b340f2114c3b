package dev.anchor.dag;

import dev.anchor.CborSerializable;
import dev.anchor.task.TaskSpec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One step of a DAG: the task it runs and the steps whose results it waits for. Journaled inside
 * {@link DagSpec}: its component names are property names of old journals (the class name is not
 * written).
 *
 * @param dependencies ids of steps that must complete first, in the order their results are handed
 *     over
 * @param inputMode what the step's code sees as {@code input}
 * @param fixedInputJson the step's own input when {@code inputMode} is {@link InputMode#FIXED},
 *     else null
 */
public record DagStep(
    String id, List<String> dependencies, TaskSpec task, InputMode inputMode, String fixedInputJson)
    implements CborSerializable {

  public DagStep {
    dependencies =
        dependencies == null
            ? List.of()
            : Collections.unmodifiableList(new ArrayList<>(dependencies));
    inputMode = inputMode == null ? InputMode.BY_DEPENDENCY : inputMode;
  }

  /**
   * The runtime of a step given without a payload (the reference system's DAG example has none): a
   * pass-through step, run by the DAG entity itself without a task, whose result is its input.
   */
  public static final String PASS_THROUGH = "pass-through";

  public boolean passThrough() {
    return task != null && PASS_THROUGH.equals(task.runtime());
  }

  public static DagStep of(String id, List<String> dependencies, TaskSpec task) {
    return new DagStep(id, dependencies, task, InputMode.BY_DEPENDENCY, null);
  }

  public enum InputMode {
    /**
     * An object keyed by dependency id holding each dependency's result; a root step sees the DAG's
     * input.
     */
    BY_DEPENDENCY,
    /** The step's own {@code fixedInputJson} (a map-reduce partition's slice). */
    FIXED,
    /** An array of the dependencies' results in dependency order (a map-reduce reduce step). */
    DEPENDENCY_ARRAY
  }
}
