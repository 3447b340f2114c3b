package dev.anchor.scheduling;

import dev.anchor.CborSerializable;

import java.util.List;

/**
 * What a worker says about itself every few seconds, published to every coordinator: enough to choose a node
 * without asking anyone. {@code address} is the worker's cluster address, so membership events map to node ids.
 * {@code hasDocker}: a Docker daemon answered on the node at its last probe (every 30 s).
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
    boolean hasDocker) implements CborSerializable {

  public NodeHeartbeat {
    runtimes = runtimes == null ? List.of() : List.copyOf(runtimes);
  }

  /** Without Docker. */
  public NodeHeartbeat(String nodeId, String address, String host, int cpuCores, long ramMb, boolean gpu,
                       String gpuModel, List<String> runtimes, double cpuUsage, double ramUsage, long uptimeS,
                       int runningTasks, int capacity, boolean draining, long atEpochMs) {
    this(nodeId, address, host, cpuCores, ramMb, gpu, gpuModel, runtimes, cpuUsage, ramUsage, uptimeS, runningTasks,
        capacity, draining, atEpochMs, false);
  }
}
