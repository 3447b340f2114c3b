package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Web apps without Docker on a real standalone: the reference body verbatim becomes the Express
 * hello app (express installed by real npm through the native runtime's cache), reachable on its
 * node and through the coordinator's proxy; a custom app with its own files asks for the same port
 * and is given another; bad bodies are 400s naming the field, unknown ids 404s; stop and delete
 * kill the processes (checked by pid).
 */
@org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
class AppsIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String REFERENCE =
      """
      {"name":"My Web App","type":"Web","config":{"port":8080,"ram":"2048MB","cpu":2}}""";

  /** Plain HTTP plus a minimal WebSocket echo (Node 20 has no WebSocket server of its own). */
  static final String CUSTOM_APP =
      """
      const http = require('http'), crypto = require('crypto');
      const srv = http.createServer((q, s) => s.end(q.url === '/healthz' ? 'ok' : 'custom:' + q.url));
      srv.on('upgrade', (req, sock) => {
        const accept = crypto.createHash('sha1')
          .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        sock.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n'
          + 'Sec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
        sock.on('data', (b) => {
          if ((b[0] & 15) !== 1) return;
          let len = b[1] & 127, off = 2;
          if (len === 126) { len = b.readUInt16BE(2); off = 4; }
          const mask = b.slice(off, off + 4), data = Buffer.alloc(len);
          for (let i = 0; i < len; i++) data[i] = b[off + 4 + i] ^ mask[i % 4];
          const reply = Buffer.from('echo:' + data.toString());
          sock.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
        });
      });
      srv.listen(Number(process.env.PORT), () => console.log('custom up on ' + process.env.PORT));
      """;

  @RegisterExtension final AnchorCluster standalone = AnchorCluster.standalone();

  private final List<Long> pids = new ArrayList<>();

  @Test
  void referenceBodyRunsTheHelloAppAndCustomAppsGetTheirOwnPort() throws Exception {
    AnchorProcess node = standalone.node();
    {
      try {

        // ---- bad bodies and unknown ids
        assertBad(node, "{\"name\":\"x\",\"type\":\"Batch\"}", "type");
        assertBad(node, "{\"type\":\"Web\",\"config\":{\"port\":70000}}", "config.port");
        assertBad(node, "{\"type\":\"Web\",\"config\":{\"ram\":\"lots\"}}", "config.ram");
        assertBad(node, "{\"type\":\"Web\",\"config\":{\"cpu\":-1}}", "config.cpu");
        assertBad(node, "{\"type\":\"Web\",\"command\":\"python3 -m http.server\"}", "command");
        assertBad(
            node,
            "{\"type\":\"Web\",\"source\":{\"files\":{\"a.js\":\"\"},\"entry\":\"b.js\"}}",
            "source.entry");
        assertEquals(404, node.get("/api/clusters/no-such-app").statusCode());
        assertEquals(404, node.post("/api/clusters/no-such-app/stop", "").statusCode());

        // ---- the reference body, verbatim
        HttpResponse<String> created = node.post("/api/clusters", REFERENCE);
        assertEquals(201, created.statusCode(), created.body());
        JsonNode c = JSON.readTree(created.body());
        String id = c.path("clusterId").asText();
        assertEquals("Deploying", c.path("status").asText(), c.toString());
        assertEquals(2048, c.path("limits").path("ramMb").asLong(), c.toString());

        JsonNode hello = awaitRunning(node, id, Duration.ofSeconds(150));
        long helloPid = hello.path("pid").asLong();
        pids.add(helloPid);
        assertTrue(
            hello.path("limits").path("memory").asText().contains("--max-old-space-size=2048"),
            hello.toString());
        assertFalse(
            hello.path("limits").path("cpuEnforcement").asText().isBlank(), hello.toString());
        String page = fetch(hello.path("nodeUrl").asText());
        assertTrue(page.contains("<h1>Running on Anchor</h1>"), page);
        // through the coordinator's proxy: no token needed, the app does its own authentication
        String proxied = fetch(hello.path("url").asText());
        assertTrue(proxied.contains("<h1>Running on Anchor</h1>"), proxied);
        JsonNode logs = JSON.readTree(node.get("/api/clusters/" + id + "/logs").body());
        assertTrue(logs.path("lines").toString().contains("listening on port"), logs.toString());
        assertTrue(
            sseUntil(
                node, "/api/clusters/" + id + "/logs/events", null, "data:", "listening on port"),
            "/logs/events did not send the line");
        // the app's changes are on the change feed (replayed from its start)
        assertTrue(
            sseUntil(node, "/api/clusters/events", "0-0", "event:", "AppHealthy"),
            "no AppHealthy event");

        // ---- a custom app with its own files asks for the same port: the node gives it another
        // and says so
        ObjectNode custom = JSON.createObjectNode();
        custom.put("name", "custom").put("type", "Web");
        custom
            .putObject("config")
            .put("port", hello.path("port").asInt())
            .put("ram", "256MB")
            .put("cpu", 0)
            .put("healthPath", "/healthz");
        assertBad(node, custom.toString(), "config.cpu");
        ((ObjectNode) custom.path("config")).put("cpu", 0.5);
        custom.putObject("source").putObject("files").put("server.js", CUSTOM_APP);
        ((ObjectNode) custom.path("source")).put("entry", "server.js");
        HttpResponse<String> c2 = node.post("/api/clusters", custom.toString());
        assertEquals(201, c2.statusCode(), c2.body());
        String id2 = JSON.readTree(c2.body()).path("clusterId").asText();
        JsonNode second = awaitRunning(node, id2, Duration.ofSeconds(60));
        pids.add(second.path("pid").asLong());
        assertNotEquals(hello.path("port").asInt(), second.path("port").asInt(), second.toString());
        assertTrue(second.path("portNote").asText().contains("is taken"), second.toString());
        assertEquals("custom:/x?y=1", fetch(second.path("url").asText() + "x?y=1"));
        assertEquals(
            "echo:hi",
            webSocketEcho(second.path("url").asText().replace("http:", "ws:") + "ws", "hi"));

        JsonNode list = JSON.readTree(node.get("/api/clusters").body());
        assertEquals(2, list.size(), list.toString());

        // ---- stop: the process (group) is gone; delete: forgotten
        HttpResponse<String> stopped = node.post("/api/clusters/" + id + "/stop", "");
        assertEquals(200, stopped.statusCode(), stopped.body());
        assertEquals("Stopped", JSON.readTree(stopped.body()).path("status").asText());
        awaitGone(helloPid);
        HttpResponse<String> deleted = HTTP_DELETE(node, "/api/clusters/" + id2);
        assertEquals(200, deleted.statusCode(), deleted.body());
        awaitGone(second.path("pid").asLong());
        assertEquals(404, node.get("/api/clusters/" + id2).statusCode());
        assertEquals(1, JSON.readTree(node.get("/api/clusters").body()).size());
      } finally {
        for (long pid : pids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }

  /**
   * Sends one text message over a WebSocket through the proxy and answers the first text message
   * back.
   */
  private static String webSocketEcho(String url, String text) throws Exception {
    var answer = new java.util.concurrent.CompletableFuture<String>();
    java.net.http.WebSocket ws =
        AnchorProcess.HTTP
            .newWebSocketBuilder()
            .buildAsync(
                URI.create(url),
                new java.net.http.WebSocket.Listener() {
                  @Override
                  public java.util.concurrent.CompletionStage<?> onText(
                      java.net.http.WebSocket w, CharSequence data, boolean last) {
                    answer.complete(data.toString());
                    return null;
                  }

                  @Override
                  public void onError(java.net.http.WebSocket w, Throwable error) {
                    answer.completeExceptionally(error);
                  }
                })
            .get(20, TimeUnit.SECONDS);
    try {
      ws.sendText(text, true).get(10, TimeUnit.SECONDS);
      return answer.get(20, TimeUnit.SECONDS);
    } finally {
      ws.abort();
    }
  }

  /**
   * Reads a server-sent event stream until a line starting with {@code prefix} contains {@code
   * text}, up to 20 s.
   */
  private static boolean sseUntil(
      AnchorProcess node, String path, String lastEventId, String prefix, String text)
      throws Exception {
    HttpRequest.Builder b = AnchorProcess.authorized(URI.create(node.url(path))).GET();
    if (lastEventId != null) b.header("Last-Event-ID", lastEventId);
    HttpResponse<java.util.stream.Stream<String>> r =
        AnchorProcess.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofLines());
    assertEquals(200, r.statusCode());
    var found =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              try (var lines = r.body()) {
                return lines.anyMatch(l -> l.startsWith(prefix) && l.contains(text));
              }
            });
    try {
      return found.get(20, TimeUnit.SECONDS);
    } finally {
      found.cancel(true);
      r.body().close();
    }
  }

  private static void assertBad(AnchorProcess node, String body, String field) throws Exception {
    HttpResponse<String> r = node.post("/api/clusters", body);
    assertEquals(400, r.statusCode(), body + " -> " + r.body());
    assertEquals(field, JSON.readTree(r.body()).path("field").asText(), r.body());
  }

  private static JsonNode awaitRunning(AnchorProcess node, String id, Duration timeout)
      throws Exception {
    try {
      return Poll.until(
          "app " + id + " running and healthy",
          timeout,
          () -> {
            JsonNode app = ApiClient.json(node.get("/api/clusters/" + id));
            if ("Failed".equals(app.path("status").asText()))
              throw new AssertionError("app failed: " + app);
            return app;
          },
          app ->
              "Running".equals(app.path("status").asText())
                  && "healthy".equals(app.path("health").asText()));
    } catch (AssertionError e) {
      throw new AssertionError(
          e.getMessage() + "\n" + node.get("/api/clusters/" + id + "/logs").body(), e);
    }
  }

  private static String fetch(String url) throws Exception {
    HttpResponse<String> r =
        AnchorProcess.HTTP.send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), url + " -> " + r.body());
    return r.body();
  }

  private static HttpResponse<String> HTTP_DELETE(AnchorProcess node, String path)
      throws Exception {
    return node.api().delete(path);
  }

  private static void awaitGone(long pid) throws Exception {
    Poll.until(
        "pid " + pid + " gone",
        Duration.ofSeconds(15),
        () -> !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
  }
}
