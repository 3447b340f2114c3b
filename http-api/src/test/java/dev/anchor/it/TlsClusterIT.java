package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.persistence.mongo.EmbeddedMongoServer;
import dev.anchor.queue.EmbeddedRedis;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cluster membership over Artery TLS with mutual authentication, certificates made with keytool as
 * the README says: a worker holding the cluster's key store joins and runs a task; one with a
 * certificate of its own (which the cluster does not trust) and one without TLS are refused, say
 * why in their logs, and never become members.
 */
@org.junit.jupiter.api.Timeout(value = 10, unit = TimeUnit.MINUTES)
class TlsClusterIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String PASS = "cluster-store-pass";

  @TempDir Path tmp;
  EmbeddedRedis redis;
  EmbeddedMongoServer mongo;
  final List<AnchorProcess> processes = new ArrayList<>();
  int clusterPort;
  int managementPort;

  @BeforeEach
  void stores() throws Exception {
    redis = EmbeddedRedis.start(tmp.resolve("redis-data"));
    mongo = EmbeddedMongoServer.inMemory();
    clusterPort = AnchorProcess.freePort();
    managementPort = AnchorProcess.freePort();
  }

  @AfterEach
  void stopAll() throws Exception {
    for (AnchorProcess p : processes) p.close();
    if (mongo != null) mongo.close();
    if (redis != null) redis.close();
  }

  /** keytool, as an operator runs it (README "Cluster membership"). */
  private void keytool(String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool hangs");
      assertEquals(0, p.exitValue(), String.join(" ", cmd) + "\n" + out);
    } finally {
      p.destroyForcibly();
    }
  }

  private void makeStores() throws Exception {
    keytool(
        "-genkeypair",
        "-alias",
        "anchor",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-validity",
        "30",
        "-dname",
        "CN=anchor-cluster",
        "-keystore",
        tmp.resolve("cluster.p12").toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASS);
    keytool(
        "-exportcert",
        "-rfc",
        "-alias",
        "anchor",
        "-keystore",
        tmp.resolve("cluster.p12").toString(),
        "-storepass",
        PASS,
        "-file",
        tmp.resolve("cluster.crt").toString());
    keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "anchor-cluster",
        "-file",
        tmp.resolve("cluster.crt").toString(),
        "-keystore",
        tmp.resolve("truststore.p12").toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASS);
    // a JVM with a certificate of its own: it trusts the cluster, but the cluster does not trust it
    keytool(
        "-genkeypair",
        "-alias",
        "rogue",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-validity",
        "30",
        "-dname",
        "CN=rogue",
        "-keystore",
        tmp.resolve("rogue.p12").toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASS);
  }

  private Map<String, String> env(String keyStore) {
    Map<String, String> env =
        new HashMap<>(
            Map.of(
                "ANCHOR_MONGO_URI",
                mongo.connectionString(),
                "ANCHOR_REDIS_URI",
                redis.uri(),
                "ANCHOR_SEED_NODES",
                "127.0.0.1:" + clusterPort,
                "ANCHOR_JS_WORKERS",
                "1"));
    if (keyStore != null) {
      env.put("ANCHOR_TLS_KEYSTORE", tmp.resolve(keyStore).toString());
      env.put("ANCHOR_TLS_KEYSTORE_PASSWORD", PASS);
      env.put("ANCHOR_TLS_TRUSTSTORE", tmp.resolve("truststore.p12").toString());
      env.put("ANCHOR_TLS_TRUSTSTORE_PASSWORD", PASS);
    }
    return env;
  }

  private AnchorProcess worker(String name, String keyStore) throws Exception {
    Map<String, String> env = env(keyStore);
    env.put("ANCHOR_NODE_NAME", name);
    AnchorProcess p =
        AnchorProcess.start("worker", tmp.resolve(name), AnchorProcess.freePort(), env);
    processes.add(p);
    return p;
  }

  @Test
  void onlyAWorkerWithTheClustersCertificateJoins() throws Exception {
    makeStores();
    Map<String, String> c = env("cluster.p12");
    c.put("ANCHOR_CLUSTER_PORT", Integer.toString(clusterPort));
    c.put("ANCHOR_MANAGEMENT_PORT", Integer.toString(managementPort));
    AnchorProcess coordinator =
        AnchorProcess.start("coordinator", tmp.resolve("coordinator"), AnchorProcess.freePort(), c);
    processes.add(coordinator);
    coordinator.awaitHealthy(Duration.ofSeconds(150));
    assertTrue(coordinator.output().contains("over TLS"), coordinator.output());

    AnchorProcess good = worker("w-good", "cluster.p12");
    AnchorProcess rogue = worker("w-rogue", "rogue.p12");
    AnchorProcess plain = worker("w-plain", null);

    awaitOnline(coordinator, "w-good");
    HttpResponse<String> r =
        coordinator.post(
            "/api/tasks",
            "{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"input.n * 2\"},\"input\":{\"n\":21}}");
    assertEquals(201, r.statusCode(), r.body());
    String id = JSON.readTree(r.body()).path("taskId").asText();
    JsonNode task = awaitEnded(coordinator, id);
    assertEquals("Completed", task.path("status").asText(), task.toString());
    assertEquals(42, task.path("result").asInt(), task.toString());
    assertEquals("w-good", task.path("nodeId").asText(), task.toString());

    // the refused ones say why, and are no members
    awaitLog(rogue, "not a cluster member yet");
    awaitLog(plain, "not a cluster member yet");
    assertTrue(rogue.output().contains("uses cluster TLS"), rogue.output());
    assertTrue(plain.output().contains("plain TCP"), plain.output());
    assertTrue(
        rogue.output().contains("SSLHandshakeException"),
        "Pekko's own TLS error:\n" + rogue.output());
    JsonNode nodes = JSON.readTree(coordinator.get("/api/nodes").body());
    List<String> ids = new ArrayList<>();
    for (JsonNode n : nodes) ids.add(n.path("nodeId").asText());
    assertEquals(List.of("w-good"), ids, nodes.toString());
    HttpResponse<String> members =
        AnchorProcess.HTTP.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + managementPort + "/cluster/members"))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, members.statusCode(), members.body());
    assertEquals(2, JSON.readTree(members.body()).path("members").size(), members.body());
    assertTrue(good.process.isAlive());
  }

  private static void awaitOnline(AnchorProcess c, String nodeId) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
    String last = "";
    while (System.nanoTime() < deadline) {
      last = c.get("/api/nodes").body();
      for (JsonNode n : JSON.readTree(last)) {
        if (n.path("nodeId").asText().equals(nodeId) && n.path("status").asText().equals("Online"))
          return;
      }
      TimeUnit.MILLISECONDS.sleep(250);
    }
    throw new AssertionError(nodeId + " not online: " + last + "\n" + c.output());
  }

  private static JsonNode awaitEnded(AnchorProcess c, String id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    JsonNode t = null;
    while (System.nanoTime() < deadline) {
      t = JSON.readTree(c.get("/api/tasks/" + id).body());
      String s = t.path("status").asText();
      if (s.equals("Completed") || s.equals("Failed") || s.equals("Cancelled")) return t;
      TimeUnit.MILLISECONDS.sleep(250);
    }
    throw new AssertionError("task did not end: " + t);
  }

  private static void awaitLog(AnchorProcess p, String text) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      if (p.output().contains(text)) return;
      if (!p.process.isAlive()) break;
      TimeUnit.MILLISECONDS.sleep(250);
    }
    throw new AssertionError("no '" + text + "' in the log:\n" + p.output());
  }
}
