package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.it.ClusterKeyStores.Identity;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Cluster membership over Artery TLS with mutual authentication, certificates made with keytool as
 * the README says: a worker holding the cluster's key store joins and runs a task; one with a
 * certificate of its own (which the cluster does not trust) and one without TLS are refused, say
 * why in their logs, and never become members.
 */
@org.junit.jupiter.api.Timeout(value = 10, unit = TimeUnit.MINUTES)
class TlsClusterIT {
  static final int MANAGEMENT_PORT = AnchorProcess.reservePort();

  @RegisterExtension
  final AnchorCluster cluster =
      AnchorCluster.coordinator()
          .manual()
          .tls()
          .tls("w-rogue", Identity.STRANGER)
          .tls("w-plain", Identity.PLAIN_TCP)
          .env("ANCHOR_JS_WORKERS", "1")
          .coordinatorEnv("ANCHOR_MANAGEMENT_PORT", Integer.toString(MANAGEMENT_PORT));

  @Test
  void onlyAWorkerWithTheClustersCertificateJoins() throws Exception {
    AnchorProcess coordinator = cluster.startCoordinator();
    assertTrue(coordinator.output().contains("over TLS"), coordinator.output());
    ApiClient api = coordinator.api();

    AnchorProcess good = cluster.startWorker("w-good");
    AnchorProcess rogue = cluster.startWorker("w-rogue");
    AnchorProcess plain = cluster.startWorker("w-plain");

    api.awaitNodeStatus("w-good", "Online", Duration.ofSeconds(150));
    String id =
        api.submit(
            "{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"input.n * 2\"},\"input\":{\"n\":21}}");
    JsonNode task = api.awaitEnd(id, Duration.ofSeconds(120));
    assertEquals("Completed", task.path("status").asText(), task.toString());
    assertEquals(42, task.path("result").asInt(), task.toString());
    assertEquals("w-good", task.path("nodeId").asText(), task.toString());

    // the refused ones say why, and are no members
    rogue.awaitOutput("not a cluster member yet", Duration.ofSeconds(120));
    plain.awaitOutput("not a cluster member yet", Duration.ofSeconds(120));
    assertTrue(rogue.output().contains("uses cluster TLS"), rogue.output());
    assertTrue(plain.output().contains("plain TCP"), plain.output());
    assertTrue(
        rogue.output().contains("SSLHandshakeException"),
        "Pekko's own TLS error:\n" + rogue.output());
    JsonNode nodes = api.nodes();
    List<String> ids = new ArrayList<>();
    for (JsonNode n : nodes) ids.add(n.path("nodeId").asText());
    assertEquals(List.of("w-good"), ids, nodes.toString());
    HttpResponse<String> members =
        ApiClient.anonymous("http://127.0.0.1:" + MANAGEMENT_PORT).get("/cluster/members");
    assertEquals(200, members.statusCode(), members.body());
    assertEquals(2, ApiClient.json(members).path("members").size(), members.body());
    assertTrue(good.process.isAlive());
  }
}
