package dev.anchor.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Turns the role and the ANCHOR_* cluster variables into Pekko settings: roles, canonical host/port
 * and seed nodes. Standalone joins itself; a coordinator joins the seeds (or itself when none are
 * given); a worker needs seeds.
 */
final class ClusterBootstrapConfig {
  static final String SYSTEM_NAME = "anchor";

  private ClusterBootstrapConfig() {}

  static Config forRole(Role role, Map<String, String> env) throws IOException {
    String host = env.getOrDefault("ANCHOR_CLUSTER_HOST", "127.0.0.1");
    int port = clusterPort(role, env);
    List<String> seeds = new ArrayList<>();
    String seedVar = env.getOrDefault("ANCHOR_SEED_NODES", "").trim();
    if (!seedVar.isEmpty()) {
      for (String s : seedVar.split(",")) {
        String hp = s.trim();
        if (hp.isEmpty()) continue;
        if (!hp.matches("[^:/@]+:\\d{1,5}")) {
          throw new IllegalArgumentException(
              "ANCHOR_SEED_NODES entry '" + hp + "' is not host:port");
        }
        seeds.add("pekko://" + SYSTEM_NAME + "@" + hp);
      }
    }
    if (seeds.isEmpty()) {
      if (role == Role.WORKER) {
        throw new IllegalArgumentException(
            "a worker needs ANCHOR_SEED_NODES (host:port of a coordinator, comma-separated)");
      }
      seeds.add("pekko://" + SYSTEM_NAME + "@" + host + ":" + port);
    }
    StringBuilder s = new StringBuilder();
    // a node whose cluster membership ends (downed, left) stops its JVM, so a supervisor can
    // restart it cleanly; a
    // worker instead starts a new actor system when it was downed, and exits otherwise
    // (AnchorMain.restartWhenDowned)
    s.append("pekko.coordinated-shutdown.exit-jvm = ")
        .append(role == Role.WORKER ? "off" : "on")
        .append('\n');
    s.append("pekko.actor.provider = cluster\n");
    s.append("pekko.remote.artery.canonical.hostname = \"").append(host).append("\"\n");
    s.append("pekko.remote.artery.canonical.port = ").append(port).append('\n');
    s.append("pekko.cluster.roles = [")
        .append(String.join(",", role.clusterRoles().stream().map(r -> '"' + r + '"').toList()))
        .append("]\n");
    s.append("pekko.cluster.seed-nodes = [")
        .append(String.join(",", seeds.stream().map(x -> '"' + x + '"').toList()))
        .append("]\n");
    return ConfigFactory.parseString(s.toString());
  }

  static int clusterPort(Role role, Map<String, String> env) throws IOException {
    String p = env.get("ANCHOR_CLUSTER_PORT");
    if (p != null && !p.isBlank()) {
      try {
        int port = Integer.parseInt(p.trim());
        if (port < 0 || port > 65535) throw new NumberFormatException();
        return port;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("ANCHOR_CLUSTER_PORT '" + p + "' is not a port number");
      }
    }
    if (role == Role.WORKER) {
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      }
    }
    return 2552;
  }

  enum Role {
    STANDALONE("coordinator", "worker"),
    COORDINATOR("coordinator"),
    WORKER("worker");

    private final List<String> roles;

    Role(String... roles) {
      this.roles = Arrays.asList(roles);
    }

    List<String> clusterRoles() {
      return roles;
    }

    boolean coordinates() {
      return roles.contains("coordinator");
    }

    boolean works() {
      return roles.contains("worker");
    }

    static Role parse(String s) {
      return switch (s) {
        case "standalone" -> STANDALONE;
        case "coordinator" -> COORDINATOR;
        case "worker" -> WORKER;
        default ->
            throw new IllegalArgumentException(
                "unknown role '" + s + "' (standalone, coordinator, worker)");
      };
    }
  }
}
