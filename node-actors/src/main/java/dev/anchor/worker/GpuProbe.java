package dev.anchor.worker;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

import java.nio.charset.StandardCharsets;

/** Asks NVIDIA's NVML (through JNA) whether this machine has a GPU and what it is; no NVML means no GPU. */
final class GpuProbe {
  record Gpu(boolean present, String model) {}

  interface Nvml extends Library {
    int nvmlInit_v2();

    int nvmlDeviceGetCount_v2(IntByReference count);

    int nvmlDeviceGetHandleByIndex_v2(int index, PointerByReference device);

    int nvmlDeviceGetName(Pointer device, byte[] name, int length);

    int nvmlShutdown();
  }

  private GpuProbe() {}

  static Gpu probe() {
    try {
      Nvml nvml = Native.load("nvidia-ml", Nvml.class);
      if (nvml.nvmlInit_v2() != 0) return new Gpu(false, null);
      try {
        IntByReference count = new IntByReference();
        if (nvml.nvmlDeviceGetCount_v2(count) != 0 || count.getValue() == 0) return new Gpu(false, null);
        PointerByReference dev = new PointerByReference();
        String model = null;
        if (nvml.nvmlDeviceGetHandleByIndex_v2(0, dev) == 0) {
          byte[] name = new byte[96];
          if (nvml.nvmlDeviceGetName(dev.getValue(), name, name.length) == 0) {
            int n = 0;
            while (n < name.length && name[n] != 0) n++;
            model = new String(name, 0, n, StandardCharsets.UTF_8);
          }
        }
        return new Gpu(true, count.getValue() > 1 && model != null ? count.getValue() + "x " + model : model);
      } finally {
        nvml.nvmlShutdown();
      }
    } catch (UnsatisfiedLinkError | RuntimeException noNvml) {
      return new Gpu(false, null);
    }
  }
}
