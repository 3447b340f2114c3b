package dev.anchor.dag;

import dev.anchor.task.TaskSpec;
import dev.anchor.task.TaskView;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Records what a DAG asks of its tasks; a submitted task stays Queued until the test says
 * otherwise.
 */
final class FakeDagEffects implements DagEffects {
  final List<String> submitted = new CopyOnWriteArrayList<>();
  final Map<String, TaskSpec> specs = new ConcurrentHashMap<>();
  final List<String> cancelled = new CopyOnWriteArrayList<>();
  final List<DagChange> changes = new CopyOnWriteArrayList<>();

  /** What getTask answers per task id; absent means never submitted. */
  final Map<String, TaskView> tasks = new ConcurrentHashMap<>();

  @Override
  public CompletionStage<TaskView> submitTask(String taskId, TaskSpec spec) {
    submitted.add(taskId);
    specs.putIfAbsent(taskId, spec);
    return CompletableFuture.completedFuture(
        tasks.computeIfAbsent(taskId, id -> view(id, TaskView.QUEUED, null, null)));
  }

  @Override
  public CompletionStage<TaskView> getTask(String taskId) {
    return CompletableFuture.completedFuture(
        tasks.getOrDefault(taskId, view(taskId, TaskView.UNKNOWN, null, null)));
  }

  @Override
  public CompletionStage<TaskView> cancelTask(String taskId) {
    cancelled.add(taskId);
    return CompletableFuture.completedFuture(view(taskId, TaskView.CANCELLED, null, null));
  }

  @Override
  public void changed(DagChange change) {
    changes.add(change);
  }

  long submitsOf(String taskId) {
    return submitted.stream().filter(taskId::equals).count();
  }

  static TaskView view(String taskId, String status, String result, String error) {
    return new TaskView(
        taskId, "t", null, status, result, error, null, null, 1, "n1", 1L, 2L, 1L, null, null, 0,
        "js", List.of());
  }
}
