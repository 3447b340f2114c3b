package dev.anchor.node;

import dev.anchor.CborSerializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What a worker node offers, as it reported on registration. */
public record NodeSpecs(int cpuCores, long ramMb, boolean gpu, String gpuModel, List<String> runtimes, String host)
    implements CborSerializable {

  public NodeSpecs {
    runtimes = runtimes == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(runtimes));
  }
}
