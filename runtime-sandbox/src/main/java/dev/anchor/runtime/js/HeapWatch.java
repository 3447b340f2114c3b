package dev.anchor.runtime.js;

import dev.anchor.runtime.FailureKind;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryNotificationInfo;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.List;
import javax.management.NotificationEmitter;

/**
 * The per-task part of the JS memory cap inside a child JVM. The child serves one task at a time,
 * so heap growth over the idle baseline belongs to that task: when the old generation, after a
 * collection, holds more than baseline + the task's cap, the task is stopped with MEMORY_LIMIT. The
 * child's -Xmx stays the hard wall behind it.
 */
final class HeapWatch {
  private static final long MB = 1024 * 1024;
  private final List<MemoryPoolMXBean> oldPools;
  private final List<MemoryPoolMXBean> heapPools;
  private final long[] oldBaseline;
  private final long[] limits;
  private final long heapBaseline;
  private volatile boolean armed;

  HeapWatch(JsTaskExecutor executor) {
    System.gc();
    heapPools =
        ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(p -> p.getType() == MemoryType.HEAP)
            .toList();
    oldPools =
        heapPools.stream()
            .filter(p -> p.isUsageThresholdSupported() && p.isCollectionUsageThresholdSupported())
            .toList();
    oldBaseline = new long[oldPools.size()];
    limits = new long[oldPools.size()];
    for (int i = 0; i < oldPools.size(); i++) oldBaseline[i] = oldPools.get(i).getUsage().getUsed();
    heapBaseline = heapPools.stream().mapToLong(p -> p.getUsage().getUsed()).sum();
    NotificationEmitter emitter = (NotificationEmitter) ManagementFactory.getMemoryMXBean();
    emitter.addNotificationListener(
        (n, hb) -> {
          if (MemoryNotificationInfo.MEMORY_COLLECTION_THRESHOLD_EXCEEDED.equals(n.getType())
              && overLimitNow()) {
            executor.stopAll(FailureKind.MEMORY_LIMIT);
          }
        },
        null,
        null);
  }

  /**
   * Notifications arrive asynchronously and may concern a collection that ran during the previous
   * task; only the live set after the latest collection, measured against the current task's limit,
   * decides.
   */
  private boolean overLimitNow() {
    if (!armed) return false;
    for (int i = 0; i < oldPools.size(); i++) {
      var usage = oldPools.get(i).getCollectionUsage();
      if (usage != null && usage.getUsed() > limits[i]) return true;
    }
    return false;
  }

  void arm(long memoryMb) {
    for (int i = 0; i < oldPools.size(); i++) {
      limits[i] = oldBaseline[i] + memoryMb * MB;
      oldPools.get(i).setCollectionUsageThreshold(limits[i]);
    }
    heapPools.forEach(MemoryPoolMXBean::resetPeakUsage);
    armed = true;
  }

  void disarm() {
    armed = false;
  }

  /**
   * Peak heap growth over the idle baseline since {@link #arm}; includes garbage, so an upper
   * bound.
   */
  long peakGrowthBytes() {
    long peak = heapPools.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
    return Math.max(0, peak - heapBaseline);
  }
}
