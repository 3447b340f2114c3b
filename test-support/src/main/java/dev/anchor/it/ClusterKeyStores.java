package dev.anchor.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The key stores of cluster TLS, made with keytool as an operator makes them (README "Cluster
 * membership"): the cluster's key pair ({@code cluster.p12}), a trust store holding its certificate
 * ({@code truststore.p12}), and the key pair of a stranger ({@code stranger.p12}), a JVM that
 * trusts the cluster but that the cluster does not trust.
 */
public final class ClusterKeyStores {
  public static final String PASSWORD = "cluster-store-pass";

  /** What a JVM of a TLS cluster holds. */
  public enum Identity {
    /** The cluster's key store and trust store: a member. */
    CLUSTER,
    /** A certificate of its own (and the cluster's trust store): refused by the cluster. */
    STRANGER,
    /** No key store: Artery over plain TCP, refused by a TLS cluster. */
    PLAIN_TCP
  }

  private final Path dir;

  private ClusterKeyStores(Path dir) {
    this.dir = dir;
  }

  /** Makes the three stores in {@code dir} (four keytool runs). */
  public static ClusterKeyStores make(Path dir) throws IOException, InterruptedException {
    java.nio.file.Files.createDirectories(dir);
    ClusterKeyStores s = new ClusterKeyStores(dir);
    s.genKeyPair("anchor", "CN=anchor-cluster", "cluster.p12");
    keytool(
        "-exportcert",
        "-rfc",
        "-alias",
        "anchor",
        "-keystore",
        s.path("cluster.p12"),
        "-storepass",
        PASSWORD,
        "-file",
        s.path("cluster.crt"));
    keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "anchor-cluster",
        "-file",
        s.path("cluster.crt"),
        "-keystore",
        s.path("truststore.p12"),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASSWORD);
    s.genKeyPair("stranger", "CN=stranger", "stranger.p12");
    return s;
  }

  /** The ANCHOR_TLS_* environment of a JVM holding {@code who}'s stores. */
  public Map<String, String> env(Identity who) {
    Map<String, String> env = new LinkedHashMap<>();
    if (who == Identity.PLAIN_TCP) return env; // no key store set: plain TCP
    env.put("ANCHOR_TLS_KEYSTORE", path(who == Identity.CLUSTER ? "cluster.p12" : "stranger.p12"));
    env.put("ANCHOR_TLS_KEYSTORE_PASSWORD", PASSWORD);
    env.put("ANCHOR_TLS_TRUSTSTORE", path("truststore.p12"));
    env.put("ANCHOR_TLS_TRUSTSTORE_PASSWORD", PASSWORD);
    return env;
  }

  private String path(String file) {
    return dir.resolve(file).toString();
  }

  private void genKeyPair(String alias, String dname, String file)
      throws IOException, InterruptedException {
    keytool(
        "-genkeypair",
        "-alias",
        alias,
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-validity",
        "30",
        "-dname",
        dname,
        "-keystore",
        path(file),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASSWORD);
  }

  private static void keytool(String... args) throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) throw new AssertionError("keytool hangs: " + cmd);
      if (p.exitValue() != 0) throw new AssertionError(String.join(" ", cmd) + "\n" + out);
    } finally {
      p.destroyForcibly();
    }
  }
}
