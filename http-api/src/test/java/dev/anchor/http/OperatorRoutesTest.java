package dev.anchor.http;

import static org.apache.pekko.http.javadsl.server.Directives.*;
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.node.NodeView;
import dev.anchor.ops.ClusterUnavailableException;
import dev.anchor.ops.NodeOperationRejectedException;
import dev.anchor.ops.NodeOperations;
import dev.anchor.ops.UnknownNodeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Route;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The operator endpoints over real HTTP on loopback, sealed with ApiServer's handlers as in
 * production.
 */
class OperatorRoutesTest {
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final List<String> calls = Collections.synchronizedList(new ArrayList<>());
  private static ActorSystem<Void> system;
  private static ServerBinding binding;

  /**
   * "n1" is Online; "ghost" never registered; "offline" refuses; "slow" gets no answer; "boom"
   * fails oddly.
   */
  private static final NodeOperations OPS =
      new NodeOperations() {
        private CompletionStage<NodeView> answer(String op, String id, NodeView changed) {
          calls.add(op + " " + id);
          return switch (id) {
            case "n1" -> CompletableFuture.completedFuture(changed);
            case "offline" ->
                CompletableFuture.failedFuture(
                    new NodeOperationRejectedException("node offline is offline"));
            case "slow" ->
                CompletableFuture.failedFuture(
                    new ClusterUnavailableException("the cluster did not answer", null));
            case "boom" -> CompletableFuture.failedFuture(new IllegalStateException("boom"));
            default -> CompletableFuture.failedFuture(new UnknownNodeException(id));
          };
        }

        @Override
        public CompletionStage<NodeView> drain(String id) {
          return answer("drain", id, view(id, NodeView.DRAINING, false));
        }

        @Override
        public CompletionStage<NodeView> cordon(String id) {
          return answer("cordon", id, view(id, NodeView.ONLINE, true));
        }

        @Override
        public CompletionStage<NodeView> uncordon(String id) {
          return answer("uncordon", id, view(id, NodeView.ONLINE, false));
        }

        @Override
        public CompletionStage<NodeView> release(String id) {
          return answer("release", id, view(id, NodeView.ONLINE, false));
        }

        @Override
        public CompletionStage<NodeView> get(String id) {
          return id.equals("n1") || id.equals("slow")
              ? answer("get", id, view(id, NodeView.ONLINE, false))
              : CompletableFuture.completedFuture(view(id, NodeView.UNKNOWN, false));
        }

        @Override
        public List<String> nodeIds() {
          return List.of("n1");
        }
      };

  private static NodeView view(String id, String status, boolean cordoned) {
    return new NodeView(
        id,
        status,
        null,
        null,
        1L,
        2L,
        cordoned,
        NodeView.ONLINE.equals(status) && !cordoned,
        null,
        0.75,
        3,
        0,
        false,
        null,
        false);
  }

  @BeforeAll
  static void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "OperatorRoutesTest");
    Route route = new OperatorRoutes(OPS).route();
    Route sealed =
        handleExceptions(
            ApiServer.exceptions(), () -> handleRejections(ApiServer.rejections(), () -> route));
    binding =
        Http.get(system)
            .newServerAt("127.0.0.1", 0)
            .bind(sealed)
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    if (binding != null) binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
    if (system != null) system.terminate();
  }

  private static HttpResponse<String> send(String method, String path) throws Exception {
    HttpRequest r =
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + binding.localAddress().getPort() + path))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .timeout(Duration.ofSeconds(10))
            .build();
    return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return Json.MAPPER.readTree(r.body());
  }

  @Test
  void eachOperatorCommandAnswersTheNodesNewView() throws Exception {
    HttpResponse<String> drain = send("POST", "/api/nodes/n1/drain");
    assertEquals(200, drain.statusCode(), drain.body());
    assertEquals("Draining", json(drain).get("status").asText());
    assertEquals("n1", json(drain).get("nodeId").asText());
    HttpResponse<String> cordon = send("POST", "/api/nodes/n1/cordon");
    assertEquals(200, cordon.statusCode());
    assertTrue(json(cordon).get("cordoned").asBoolean());
    assertFalse(json(cordon).get("acceptsTasks").asBoolean());
    assertEquals(200, send("POST", "/api/nodes/n1/uncordon").statusCode());
    assertEquals(200, send("POST", "/api/nodes/n1/release").statusCode());
    assertTrue(calls.containsAll(List.of("drain n1", "cordon n1", "uncordon n1", "release n1")));
  }

  @Test
  void getAnswersTheViewWithItsReputation() throws Exception {
    HttpResponse<String> r = send("GET", "/api/nodes/n1");
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").contains("application/json"));
    assertEquals(0.75, json(r).get("reputation").asDouble(), 1e-9);
  }

  @Test
  void anUnknownNodeIs404WithTheDocumentedBody() throws Exception {
    for (String path :
        List.of(
            "/api/nodes/ghost/drain",
            "/api/nodes/ghost/cordon",
            "/api/nodes/ghost/uncordon",
            "/api/nodes/ghost/release")) {
      HttpResponse<String> r = send("POST", path);
      assertEquals(404, r.statusCode(), path);
      assertEquals("{\"error\":\"unknown node ghost\",\"field\":\"nodeId\"}", r.body(), path);
    }
    HttpResponse<String> get = send("GET", "/api/nodes/ghost");
    assertEquals(404, get.statusCode());
    assertEquals("unknown node ghost", json(get).get("error").asText());
  }

  @Test
  void aRefusalIs409AndNoAnswerIs503NeverA500() throws Exception {
    HttpResponse<String> refused = send("POST", "/api/nodes/offline/drain");
    assertEquals(409, refused.statusCode());
    assertEquals("node offline is offline", json(refused).get("error").asText());
    HttpResponse<String> slow = send("POST", "/api/nodes/slow/cordon");
    assertEquals(503, slow.statusCode());
    assertTrue(json(slow).get("error").asText().contains("did not answer"));
    assertEquals(503, send("GET", "/api/nodes/slow").statusCode());
    assertEquals(503, send("POST", "/api/nodes/boom/cordon").statusCode());
  }

  @Test
  void otherVerbsAreRejectedAsMethodNotAllowed() throws Exception {
    long drainsBefore = calls.stream().filter("drain n1"::equals).count();
    HttpResponse<String> r = send("GET", "/api/nodes/n1/drain");
    assertEquals(405, r.statusCode());
    assertTrue(json(r).has("error"));
    assertEquals(405, send("DELETE", "/api/nodes/n1").statusCode());
    assertEquals(
        drainsBefore, calls.stream().filter("drain n1"::equals).count(), "a GET must not drain");
  }

  @Test
  void theNodeListIsLeftToTheOtherRoutes() throws Exception {
    assertEquals(404, send("GET", "/api/nodes").statusCode());
  }
}
