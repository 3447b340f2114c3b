package dev.anchor.runtime.nativejs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The native runtime's process tools for long-lived processes (web apps) started outside {@link
 * NativeRunner}: the same content-addressed npm cache, the same scrubbed environment, the same
 * process-group kill.
 */
public final class NativeProcesses {
  private static final Map<String, DependencyCache> CACHES = new ConcurrentHashMap<>();

  private NativeProcesses() {}

  /**
   * An install that failed; {@code userError} when the dependency itself is wrong rather than npm
   * or the network.
   */
  public static final class InstallFailed extends Exception {
    private final boolean userError;

    InstallFailed(String message, boolean userError) {
      super(message);
      this.userError = userError;
    }

    public boolean userError() {
      return userError;
    }
  }

  /**
   * The node_modules directory holding {@code specs} (registry specs like {@code express@^4}),
   * installed once per set into {@code cacheRoot} and shared with native tasks using the same cache
   * directory.
   */
  public static Path dependencies(Path cacheRoot, String npm, List<String> specs)
      throws InstallFailed, IOException, InterruptedException {
    DependencyCache cache =
        CACHES.computeIfAbsent(
            cacheRoot.toAbsolutePath() + "\n" + npm, k -> new DependencyCache(cacheRoot, npm));
    try {
      return cache.ensure(specs);
    } catch (DependencyCache.InstallException e) {
      throw new InstallFailed(e.getMessage(), e.userError);
    }
  }

  /** PATH, HOME ({@code home}) and LANG only: the process must not inherit the worker's secrets. */
  public static void scrubEnvironment(Map<String, String> env, Path home) {
    NativeRunner.scrubEnvironment(env, home);
  }

  /**
   * The command prefixed with {@code setsid} (when present), so the process leads its own process
   * group.
   */
  public static List<String> inOwnGroup(List<String> command) {
    return ProcessTree.inOwnGroup(command);
  }

  /** Kills the process, its process group and every descendant; waits up to 5 s for it to exit. */
  public static void killTree(Process p) {
    ProcessTree.kill(p);
  }

  /** SIGKILL to a whole process group (a leftover of an earlier run of this worker). */
  public static void killGroup(long pgid) {
    ProcessTree.signalGroup(pgid);
  }
}
