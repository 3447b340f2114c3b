package dev.anchor.worker;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Asks NVIDIA's NVML (through JNA) whether this machine has a GPU, what it is and how much memory
 * it has; no NVML means no GPU. When there is one, NVML stays initialised so {@link #usage()} can
 * sample utilisation and memory at every heartbeat.
 */
final class GpuProbe {
  /**
   * @param memoryMb total over all GPUs; null without a GPU or when NVML does not say
   */
  record Gpu(boolean present, String model, Long memoryMb) {
    static final Gpu NONE = new Gpu(false, null, null);
  }

  /**
   * @param utilization percent busy, averaged over the GPUs
   */
  record Usage(Integer utilization, Long memoryUsedMb) {}

  interface Nvml extends Library {
    int nvmlInit_v2();

    int nvmlDeviceGetCount_v2(IntByReference count);

    int nvmlDeviceGetHandleByIndex_v2(int index, PointerByReference device);

    int nvmlDeviceGetName(Pointer device, byte[] name, int length);

    /** nvmlMemory_t: unsigned long long total, free, used */
    int nvmlDeviceGetMemoryInfo(Pointer device, Pointer memory);

    /** nvmlUtilization_t: unsigned int gpu, memory (percent) */
    int nvmlDeviceGetUtilizationRates(Pointer device, Pointer utilization);

    int nvmlShutdown();
  }

  private final Nvml nvml;
  private final List<Pointer> devices;
  private final Gpu gpu;

  private GpuProbe(Nvml nvml, List<Pointer> devices, Gpu gpu) {
    this.nvml = nvml;
    this.devices = devices;
    this.gpu = gpu;
  }

  static GpuProbe open() {
    try {
      Nvml nvml = Native.load("nvidia-ml", Nvml.class);
      if (nvml.nvmlInit_v2() != 0) return none();
      IntByReference count = new IntByReference();
      if (nvml.nvmlDeviceGetCount_v2(count) != 0 || count.getValue() == 0) {
        nvml.nvmlShutdown();
        return none();
      }
      List<Pointer> devices = new ArrayList<>();
      for (int i = 0; i < count.getValue(); i++) {
        PointerByReference dev = new PointerByReference();
        if (nvml.nvmlDeviceGetHandleByIndex_v2(i, dev) == 0) devices.add(dev.getValue());
      }
      String model = null;
      if (!devices.isEmpty()) {
        byte[] name = new byte[96];
        if (nvml.nvmlDeviceGetName(devices.get(0), name, name.length) == 0) {
          int n = 0;
          while (n < name.length && name[n] != 0) n++;
          model = new String(name, 0, n, StandardCharsets.UTF_8);
        }
      }
      Long memoryMb = null;
      Memory mem = new Memory(24);
      for (Pointer d : devices) {
        if (nvml.nvmlDeviceGetMemoryInfo(d, mem) == 0) {
          memoryMb = (memoryMb == null ? 0 : memoryMb) + mem.getLong(0) / (1024 * 1024);
        }
      }
      String shown =
          count.getValue() > 1 && model != null ? count.getValue() + "x " + model : model;
      return new GpuProbe(nvml, devices, new Gpu(true, shown, memoryMb));
    } catch (UnsatisfiedLinkError | RuntimeException noNvml) {
      return none();
    }
  }

  private static GpuProbe none() {
    return new GpuProbe(null, List.of(), Gpu.NONE);
  }

  Gpu gpu() {
    return gpu;
  }

  /** Utilisation and memory in use now; null without a GPU or when NVML does not answer. */
  synchronized Usage usage() {
    if (nvml == null || devices.isEmpty()) return null;
    try {
      Memory util = new Memory(8);
      Memory mem = new Memory(24);
      long busy = 0, used = 0;
      int utilAnswers = 0, memAnswers = 0;
      for (Pointer d : devices) {
        if (nvml.nvmlDeviceGetUtilizationRates(d, util) == 0) {
          busy += util.getInt(0) & 0xffffffffL;
          utilAnswers++;
        }
        if (nvml.nvmlDeviceGetMemoryInfo(d, mem) == 0) {
          used += mem.getLong(16) / (1024 * 1024);
          memAnswers++;
        }
      }
      if (utilAnswers == 0 && memAnswers == 0) return null;
      return new Usage(
          utilAnswers == 0 ? null : (int) (busy / utilAnswers), memAnswers == 0 ? null : used);
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      return null;
    }
  }
}
