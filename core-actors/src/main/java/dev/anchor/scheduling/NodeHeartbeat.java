package dev.anchor.scheduling;

import dev.anchor.CborSerializable;
import java.util.List;

/**
 * What a worker says about itself every few seconds, published to every coordinator: enough to
 * choose a node without asking anyone. {@code address} is the worker's cluster address, so
 * membership events map to node ids.
 *
 * @param gpuMemoryMb total memory of its GPUs (NVML); null without a GPU
 * @param gpuUtilization GPU busy percentage at this heartbeat (NVML, averaged over its GPUs); null
 *     without a GPU
 * @param gpuMemoryUsedMb GPU memory in use at this heartbeat; null without a GPU
 * @param capture whether its screen can be captured (jni-capture); null from a worker that predates
 *     it
 * @param captureReason why not, when {@code capture} is false
 * @param hasDocker a Docker daemon answered on the node at its last probe (every 30 s)
 */
public record NodeHeartbeat(
    String nodeId,
    String address,
    String host,
    int cpuCores,
    long ramMb,
    boolean gpu,
    String gpuModel,
    List<String> runtimes,
    double cpuUsage,
    double ramUsage,
    long uptimeS,
    int runningTasks,
    int capacity,
    boolean draining,
    long atEpochMs,
    Long gpuMemoryMb,
    Integer gpuUtilization,
    Long gpuMemoryUsedMb,
    Boolean capture,
    String captureReason,
    boolean hasDocker)
    implements CborSerializable {

  public NodeHeartbeat {
    runtimes = runtimes == null ? List.of() : List.copyOf(runtimes);
  }

  /** A heartbeat without GPU figures and capture status. */
  public NodeHeartbeat(
      String nodeId,
      String address,
      String host,
      int cpuCores,
      long ramMb,
      boolean gpu,
      String gpuModel,
      List<String> runtimes,
      double cpuUsage,
      double ramUsage,
      long uptimeS,
      int runningTasks,
      int capacity,
      boolean draining,
      long atEpochMs) {
    this(
        nodeId,
        address,
        host,
        cpuCores,
        ramMb,
        gpu,
        gpuModel,
        runtimes,
        cpuUsage,
        ramUsage,
        uptimeS,
        runningTasks,
        capacity,
        draining,
        atEpochMs,
        null,
        null,
        null,
        null,
        null,
        false);
  }
}
