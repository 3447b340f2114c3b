package dev.anchor.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How an app's {@code ramMb} and {@code cpu} are enforced on this node, said in words for GET
 * /api/clusters/{id}.
 *
 * <p>Memory: Node.js apps always get {@code --max-old-space-size=ramMb} (the V8 heap, not the whole
 * process). CPU and whole-process memory need a cgroup v2 the worker may write to: when {@code
 * /sys/fs/cgroup} is cgroup v2 and the worker's own cgroup has a writable {@code anchor-apps} child
 * (delegated to the worker's user, with the memory and cpu controllers enabled in its {@code
 * cgroup.subtree_control}), each app gets {@code anchor-apps/<app>} with {@code memory.max} and
 * {@code cpu.max}, and its process is moved there right after it starts (children it forks before
 * that move stay outside). Otherwise the cores are accounting only: the scheduler reserves them,
 * nothing stops the process from using more.
 */
final class CgroupLimits {
  static final String HEAP = "node --max-old-space-size";
  static final String CGROUP_MEMORY = "cgroup v2 memory.max";
  static final String CGROUP_CPU = "cgroup v2 cpu.max";
  static final String ACCOUNTING = "accounting only";

  /**
   * @param cgroup the app's cgroup directory, null when there is none
   */
  record Applied(String memory, String cpu, Path cgroup) {}

  private CgroupLimits() {}

  static Applied describe(AppSpec spec) {
    Path cg = create(spec);
    String heap = spec.usesCommand() ? null : HEAP + "=" + spec.ramMb();
    String memory =
        cg != null
            ? (heap == null ? CGROUP_MEMORY : heap + " + " + CGROUP_MEMORY)
            : heap == null
                ? "not enforced (no writable cgroup v2 on this node)"
                : heap + " (heap only; no writable cgroup v2 on this node)";
    String cpu = cg != null ? CGROUP_CPU : ACCOUNTING + " (no writable cgroup v2 on this node)";
    return new Applied(memory, cpu, cg);
  }

  /** Moves the started process into the app's cgroup, when there is one. */
  static void attach(Applied a, long pid) {
    if (a.cgroup() == null) return;
    try {
      Files.writeString(a.cgroup().resolve("cgroup.procs"), Long.toString(pid));
    } catch (IOException e) {
      // the process runs on, without the limits; the view still says cgroup (best effort), so log
      // it loudly
      org.slf4j.LoggerFactory.getLogger(CgroupLimits.class)
          .warn("could not move pid {} into {}: {}", pid, a.cgroup(), e.toString());
    }
  }

  private static Path create(AppSpec spec) {
    try {
      Path root = Path.of("/sys/fs/cgroup");
      if (!Files.exists(root.resolve("cgroup.controllers"))) return null; // not cgroup v2
      String own =
          Files.readAllLines(Path.of("/proc/self/cgroup")).stream()
              .filter(l -> l.startsWith("0::"))
              .map(l -> l.substring(3))
              .findFirst()
              .orElse(null);
      if (own == null) return null;
      Path parent =
          root.resolve(own.startsWith("/") ? own.substring(1) : own).resolve("anchor-apps");
      if (!Files.isDirectory(parent) || !Files.isWritable(parent)) return null;
      String enabled = Files.readString(parent.resolve("cgroup.subtree_control"));
      if (!enabled.contains("memory") || !enabled.contains("cpu")) return null;
      Path cg =
          parent.resolve(
              AppSupervisor.safeName(spec.name() == null ? "app" : spec.name())
                  + "-"
                  + Long.toHexString(System.nanoTime()));
      Files.createDirectories(cg);
      Files.writeString(cg.resolve("memory.max"), Long.toString(spec.ramMb() * 1024 * 1024));
      long period = 100_000;
      Files.writeString(
          cg.resolve("cpu.max"),
          String.format(
              Locale.ROOT, "%d %d", Math.max(1000, (long) (spec.cpu() * period)), period));
      return cg;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
