package dev.anchor.node;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.anchor.CborSerializable;

/**
 * A node's load at its last heartbeat.
 *
 * @param cpuUsage fraction 0..1 of all cores
 * @param ramUsage fraction 0..1 of its memory
 * @param gpuUtilization GPU busy percentage (NVML); absent without a GPU
 * @param gpuMemoryUsedMb GPU memory in use (NVML); absent without a GPU
 */
public record NodeMetrics(
    double cpuUsage,
    double ramUsage,
    long uptimeS,
    int runningTasks,
    @JsonInclude(JsonInclude.Include.NON_NULL) Integer gpuUtilization,
    @JsonInclude(JsonInclude.Include.NON_NULL) Long gpuMemoryUsedMb)
    implements CborSerializable {

  public NodeMetrics(double cpuUsage, double ramUsage, long uptimeS, int runningTasks) {
    this(cpuUsage, ramUsage, uptimeS, runningTasks, null, null);
  }
}
