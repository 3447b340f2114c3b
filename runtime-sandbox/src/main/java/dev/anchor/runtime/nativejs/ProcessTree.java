package dev.anchor.runtime.nativejs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Kills a task's whole process tree. The task is started as the leader of a new session and process
 * group ({@code setsid}), so one signal to the group reaches every process it forked, even those
 * whose parent already exited; descendants that moved to a new group of their own are found through
 * {@link ProcessHandle#descendants()}.
 */
final class ProcessTree {
  private static final String SETSID = findSetsid();

  private ProcessTree() {}

  /** The command prefixed so the task leads its own process group, when setsid exists. */
  static List<String> inOwnGroup(List<String> command) {
    if (SETSID == null) return command;
    List<String> out = new ArrayList<>();
    out.add(SETSID);
    out.addAll(command);
    return out;
  }

  static void kill(Process p) {
    List<ProcessHandle> descendants = p.descendants().toList();
    if (SETSID != null) signalGroup(p.pid());
    p.destroyForcibly();
    descendants.forEach(ProcessHandle::destroyForcibly);
    try {
      p.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * After the task's main process ended on its own: whatever it left running in its group dies too.
   */
  static void killLeftovers(Process p) {
    if (SETSID != null) signalGroup(p.pid());
  }

  static void signalGroup(long pgid) {
    try {
      Process kill =
          new ProcessBuilder("kill", "-KILL", "--", "-" + pgid)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      kill.waitFor(5, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // the group is already gone
    }
  }

  private static String findSetsid() {
    for (String dir : List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin")) {
      Path p = Path.of(dir, "setsid");
      if (Files.isExecutable(p)) return p.toString();
    }
    return null;
  }
}
