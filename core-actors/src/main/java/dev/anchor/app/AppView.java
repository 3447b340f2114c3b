package dev.anchor.app;

import dev.anchor.CborSerializable;
import java.util.List;

/**
 * What GET /api/clusters/{id} shows (the route adds {@code url} and {@code nodeUrl}).
 *
 * @param status Deploying, Starting, Running (healthy), Restarting, Stopped, Failed, Deleted;
 *     Unknown = no such app
 * @param health healthy, unhealthy or unknown (nothing heard from its node yet)
 * @param message why it waits or failed, or what its node said last
 */
public record AppView(
    String clusterId,
    String name,
    String type,
    String status,
    boolean desiredRunning,
    String nodeId,
    String host,
    Integer port,
    int requestedPort,
    String portNote,
    Long pid,
    int restarts,
    Integer lastExitCode,
    String health,
    String healthPath,
    Limits limits,
    Long createdAt,
    Long startedAt,
    Long stoppedAt,
    int incarnation,
    String message,
    List<String> lastLogs,
    Retiring retiring,
    List<AppEntity.HistoryEntry> history,
    Display display)
    implements CborSerializable {

  /**
   * The app's virtual display (asked with {@code "display": true}).
   *
   * @param number the X display number on its node (null until the node started it)
   * @param size {@code WIDTHxHEIGHT}
   */
  public record Display(Integer number, String size) implements CborSerializable {}

  /**
   * Where the app still serves during a graceful move (drain), until its new incarnation is
   * healthy.
   */
  public record Retiring(String nodeId, String host, Integer port) implements CborSerializable {}

  public static final String UNKNOWN = "Unknown";

  /**
   * @param memory how {@code ramMb} is enforced where the app runs: "node --max-old-space-size"
   *     and/or "cgroup v2 memory.max" (or "not enforced" for a command app without a cgroup)
   * @param cpuEnforcement "cgroup v2 cpu.max" or "accounting only" (the scheduler reserves the
   *     cores; nothing stops the process from using more)
   */
  public record Limits(long ramMb, double cpu, String memory, String cpuEnforcement)
      implements CborSerializable {}

  public static AppView unknown(String id) {
    return new AppView(
        id, null, null, UNKNOWN, false, null, null, null, 0, null, null, 0, null, "unknown", null,
        null, null, null, null, 0, null, List.of(), null, List.of(), null);
  }
}
