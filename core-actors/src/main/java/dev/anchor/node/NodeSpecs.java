package dev.anchor.node;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.anchor.CborSerializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a worker node offers, as it reported on registration.
 *
 * @param gpuMemoryMb total memory of its GPUs (NVML); absent without a GPU
 * @param capture whether its screen can be captured ({@code GET /api/nodes/{id}/screen}); absent
 *     from workers that predate screen capture
 * @param captureReason why not, when {@code capture} is false
 */
public record NodeSpecs(
    int cpuCores,
    long ramMb,
    boolean gpu,
    String gpuModel,
    List<String> runtimes,
    String host,
    @JsonInclude(JsonInclude.Include.NON_NULL) Long gpuMemoryMb,
    @JsonInclude(JsonInclude.Include.NON_NULL) Boolean capture,
    @JsonInclude(JsonInclude.Include.NON_NULL) String captureReason)
    implements CborSerializable {

  public NodeSpecs {
    runtimes =
        runtimes == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(runtimes));
  }

  public NodeSpecs(
      int cpuCores, long ramMb, boolean gpu, String gpuModel, List<String> runtimes, String host) {
    this(cpuCores, ramMb, gpu, gpuModel, runtimes, host, null, null, null);
  }
}
