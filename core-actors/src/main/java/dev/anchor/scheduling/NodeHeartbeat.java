package dev.anchor.scheduling;

import dev.anchor.CborSerializable;

import java.util.List;

/**
 * What a worker says about itself every few seconds, published to every coordinator: enough to choose a node
 * without asking anyone. {@code address} is the worker's cluster address, so membership events map to node ids.
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
    long atEpochMs) implements CborSerializable {

  public NodeHeartbeat {
    runtimes = runtimes == null ? List.of() : List.copyOf(runtimes);
  }
}
