package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.http.HostileBodies;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Hostile input against a real standalone, over the wire: every route family gets mutated bodies,
 * hostile ids and query values and garbage tokens ({@link HostileBodies}); the wire-level cases
 * (invalid UTF-8, oversized headers, a body that trickles in, a truncated body) go over raw
 * sockets. Never a 5xx; every 4xx is a JSON error, and every 400 names its field; the node is
 * healthy afterwards and still runs a task. Tries per family are bounded ({@link #TRIES}) so the
 * run stays short.
 */
class HostileInputIT {
  private static final int TRIES = 120;
  private static final ObjectMapper JSON = ApiClient.JSON;

  /** jqwik runs this class: the standalone is started and stopped around its container by hand. */
  private static AnchorCluster standalone;

  private static ApiClient api;

  @BeforeContainer
  static void start() throws Exception {
    standalone =
        AnchorCluster.standalone()
            .env("ANCHOR_MONGO_URI", "embedded-memory")
            .env("ANCHOR_APPS_ALLOW_COMMANDS", "on")
            .start();
    api = standalone.api().withTimeout(Duration.ofSeconds(30));
  }

  @AfterContainer
  static void stop() throws Exception {
    if (standalone == null) return;
    try (AnchorCluster stopped = standalone) {
      AnchorProcess node = standalone.node();
      // the node survived everything: healthy, and a task still runs to completion
      assertEquals(200, api.get("/health").statusCode(), node.output());
      String id = api.submit(HostileBodies.TASKS.get(0));
      try {
        // the fuzzing leaves tasks queued before this one (retries, verified tasks, map-reduce
        // steps): a generous deadline
        api.awaitStatus(id, "Completed", Duration.ofSeconds(180));
      } catch (AssertionError e) {
        throw new AssertionError(
            "after the fuzzing: "
                + e.getMessage()
                + "\nqueue: "
                + api.get("/api/queue/stats").body()
                + "\nnodes: "
                + api.get("/api/nodes").body(),
            e);
      }
      assertFalse(
          node.output().contains("request failed"),
          "a request failed inside the node:\n" + node.output());
    }
  }

  // ---------------------------------------------------------------- bodies

  @Property(tries = TRIES)
  void taskSubmits(@ForAll(supplier = HostileBodies.Tasks.class) String body) throws Exception {
    answersWell(api.send("POST", "/api/tasks", body));
  }

  @Property(tries = TRIES / 2)
  void bulkSubmits(@ForAll(supplier = HostileBodies.Bulk.class) String body) throws Exception {
    answersWell(api.send("POST", "/api/tasks/bulk", body));
  }

  @Property(tries = TRIES / 2)
  void dagSchedules(@ForAll(supplier = HostileBodies.Dags.class) String body) throws Exception {
    answersWell(api.send("POST", "/api/dag/schedule", body));
  }

  @Property(tries = TRIES / 2)
  void mapReduces(@ForAll(supplier = HostileBodies.MapReduces.class) String body) throws Exception {
    answersWell(api.send("POST", "/api/mapreduce", body));
  }

  @Property(tries = TRIES / 2)
  void appCreates(@ForAll(supplier = HostileBodies.Apps.class) String body) throws Exception {
    HttpResponse<String> r = api.send("POST", "/api/clusters", body);
    answersWell(r);
    // an app that was created is removed again, so the node does not run dozens of them
    if (r.statusCode() == 201) {
      String id =
          JSON.readTree(r.body())
              .path("id")
              .asText(JSON.readTree(r.body()).path("clusterId").asText());
      if (!id.isEmpty()) api.delete("/api/clusters/" + enc(id));
    }
  }

  @Property(tries = TRIES / 2)
  void sessions(@ForAll(supplier = HostileBodies.Sessions.class) String body) throws Exception {
    answersWell(api.withoutToken().send("POST", "/api/session", body));
  }

  // ---------------------------------------------------------------- ids, query values, headers

  @Provide
  Arbitrary<String> hostileTexts() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            "",
            " ",
            "0",
            "-1",
            "99999999999999999999",
            "1e400",
            "NaN",
            "..",
            "../..",
            "%00",
            "null",
            "\u0000",
            "\ud800",
            "\u202e",
            "a/b",
            "Task|x",
            "$where",
            "{}",
            "[]",
            "' OR 1=1 --",
            "0-0",
            "1-99999999999999999999",
            "9999999999999-0",
            "$",
            "+",
            "x".repeat(3000)),
        Arbitraries.strings().ofMinLength(0).ofMaxLength(40),
        Arbitraries.strings().all().ofMaxLength(20));
  }

  @Provide
  Arbitrary<String> readPaths() {
    return Arbitraries.of(
        "/api/tasks/%s",
        "/api/tasks?status=%s",
        "/api/tasks?limit=%s",
        "/api/dag/%s",
        "/api/clusters/%s",
        "/api/clusters/%s/logs?limit=%s",
        "/api/nodes/%s",
        "/api/fraud?nodeId=%s&since=%s&limit=%s",
        "/api/fraud/%s",
        "/api/nodes/%s/screen?width=%s");
  }

  @Property(tries = TRIES)
  void readsOfHostileIdsAndQueries(
      @ForAll("readPaths") String path, @ForAll("hostileTexts") String value) throws Exception {
    answersWell(api.get(path.replace("%s", enc(value))));
  }

  @Provide
  Arbitrary<String> changePaths() {
    return Arbitraries.of(
        "DELETE /api/tasks/%s",
        "DELETE /api/dag/%s",
        "DELETE /api/clusters/%s",
        "POST /api/clusters/%s/stop",
        "POST /api/clusters/%s/restart",
        "POST /api/nodes/%s/cordon",
        "POST /api/nodes/%s/uncordon",
        "POST /api/nodes/%s/release",
        "POST /api/nodes/%s/drain");
  }

  @Property(tries = TRIES / 2)
  void changesOfHostileIds(
      @ForAll("changePaths") String route, @ForAll("hostileTexts") String value) throws Exception {
    String[] mp = route.split(" ", 2);
    answersWell(api.send(mp[0], mp[1].replace("%s", enc(value)), mp[0].equals("POST") ? "" : null));
  }

  @Property(tries = TRIES / 2)
  void streamsFromHostilePositions(
      @ForAll("hostileTexts") String lastEventId, @ForAll("streamPaths") String path)
      throws Exception {
    String header =
        lastEventId.replaceAll("[\\x00-\\x1f\\x7f]", "").replaceAll("[^\\x20-\\x7e]", "?");
    HttpRequest.Builder b = api.request(path).timeout(Duration.ofSeconds(20));
    if (!header.isBlank()) b.header("Last-Event-ID", header);
    HttpResponse<InputStream> r = api.stream(b.build());
    try (InputStream in = r.body()) {
      assertTrue(
          r.statusCode() < 500, path + " Last-Event-ID " + header + " answered " + r.statusCode());
      if (r.statusCode() >= 400)
        answersWell(
            r.statusCode(), new String(in.readAllBytes(), StandardCharsets.UTF_8), r.headers());
    }
  }

  @Provide
  Arbitrary<String> streamPaths() {
    return Arbitraries.of(
        "/api/events", "/api/tasks/nope/events", "/api/dag/nope/events", "/api/clusters/events");
  }

  @Property(tries = TRIES / 2)
  void garbageTokens(@ForAll("hostileTexts") String token, @ForAll("readPaths") String path)
      throws Exception {
    answersWell(api.withToken(token.replaceAll("[^\\x21-\\x7e]", "")).get(path.replace("%s", "x")));
  }

  /**
   * Found by changesOfHostileIds (seed -3072233595953757379): DELETE /api/clusters/Task|x waited 30
   * s, then 503.
   */
  @Example
  void idsNoEntityCanHaveAre404sNamingTheId() throws Exception {
    for (String route :
        List.of(
            "GET /api/tasks/a%7Cb:taskId",
            "DELETE /api/tasks/a%7Cb:taskId",
            "GET /api/tasks/a%7Cb/events:taskId",
            "GET /api/dag/a%7Cb:dagId",
            "DELETE /api/dag/a%7Cb:dagId",
            "DELETE /api/clusters/Task%7Cx:clusterId",
            "POST /api/clusters/a%7Cb/stop:clusterId",
            "GET /api/clusters/a%7Cb/logs:clusterId",
            "GET /api/nodes/a%7Cb:nodeId",
            "POST /api/nodes/a%7Cb/cordon:nodeId",
            "GET /api/tasks/a%01b:taskId")) {
      String[] mpf = route.split("[ :]");
      HttpResponse<String> r = api.send(mpf[0], mpf[1], mpf[0].equals("POST") ? "" : null);
      assertEquals(404, r.statusCode(), route + ": " + r.body());
      assertEquals(mpf[2], JSON.readTree(r.body()).path("field").asText(), route + ": " + r.body());
    }
  }

  /**
   * Found by streamsFromHostilePositions (seed -430456339656478806): a Last-Event-ID beyond Redis's
   * 64-bit stream ids made XREAD fail, and the connection closed without an answer. An unusable
   * position is ignored: the stream starts.
   */
  @Example
  void aStreamPositionRedisCannotReadFromStartsFromNow() throws Exception {
    for (String path : List.of("/api/events", "/api/clusters/events")) {
      HttpResponse<InputStream> r =
          api.stream(
              api.request(path)
                  .header("Last-Event-ID", "1-99999999999999999999")
                  .timeout(Duration.ofSeconds(20))
                  .build());
      r.body().close();
      assertEquals(200, r.statusCode(), path);
      assertTrue(
          r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"), path);
    }
  }

  // ---------------------------------------------------------------- wire level (raw sockets)

  @Example
  void invalidUtf8InABodyIsA400NamingTheField() throws Exception {
    byte[] head = "{\"payload\":{\"sourceCode\":\"1 + '".getBytes(StandardCharsets.UTF_8);
    byte[] tail = "'\"}}".getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(head);
    body.write(new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xc3, (byte) 0x28});
    body.write(tail);
    Raw r = raw(request("POST", "/api/tasks", body.toByteArray(), ""), Duration.ofSeconds(20));
    assertEquals(400, r.status, r.text);
    assertEquals("payload.sourceCode", JSON.readTree(r.body()).path("field").asText(), r.text);
  }

  @Example
  void oversizedHeadersAreRefusedWithAJsonError() throws Exception {
    Raw big =
        raw(
            request("GET", "/api/tasks", new byte[0], "X-Big: " + "a".repeat(100_000) + "\r\n"),
            Duration.ofSeconds(20));
    assertTrue(big.status == 431 || big.status == 400, big.text);
    assertTrue(JSON.readTree(big.body()).hasNonNull("error"), big.text);
    StringBuilder many = new StringBuilder();
    for (int i = 0; i < 2000; i++) many.append("X-H").append(i).append(": v\r\n");
    Raw lots =
        raw(request("GET", "/api/tasks", new byte[0], many.toString()), Duration.ofSeconds(20));
    assertTrue(lots.status == 431 || lots.status == 400, lots.text);
    assertTrue(JSON.readTree(lots.body()).hasNonNull("error"), lots.text);
    Raw longUri =
        raw(
            ("GET /api/tasks/"
                    + "x".repeat(100_000)
                    + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII),
            Duration.ofSeconds(20));
    assertTrue(longUri.status == 414 || longUri.status == 400, longUri.text);
    assertTrue(JSON.readTree(longUri.body()).hasNonNull("error"), longUri.text);
  }

  @Example
  void aBodyThatTricklesInIsCutOffWithA408() throws Exception {
    String body = HostileBodies.TASKS.get(0);
    String head =
        "POST /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + api.token()
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + body.length()
            + "\r\nConnection: close\r\n\r\n";
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", standalone.httpPort()), 5000);
      s.setSoTimeout(60_000);
      OutputStream out = s.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(body.substring(0, 5).getBytes(StandardCharsets.US_ASCII));
      out.flush();
      // one byte every 2 s: a slow-loris keeps the connection alive but never finishes the body
      long start = System.nanoTime();
      InputStream in = s.getInputStream();
      Raw r = null;
      for (int i = 5; i < body.length() && r == null; i++) {
        if (in.available() > 0) break;
        try {
          out.write(body.charAt(i));
          out.flush();
        } catch (java.io.IOException closed) {
          break;
        }
        TimeUnit.SECONDS.sleep(2);
        if (System.nanoTime() - start > TimeUnit.SECONDS.toNanos(45)) break;
      }
      r = Raw.parse(in.readAllBytes());
      assertEquals(408, r.status, r.text);
      assertTrue(JSON.readTree(r.body()).hasNonNull("error"), r.text);
    }
  }

  @Example
  void aRequestHeadThatTricklesInIsCutOffWhileANormalRequestStillWorks() throws Exception {
    // one header byte a second: this head would take 40 s; the node's limit is 10 s
    // (anchor.http.request-head-timeout), counted from the connection's opening
    String head =
        "GET /api/queue/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
            + "a".repeat(40)
            + "\r\n\r\n";
    long start = System.nanoTime();
    boolean closed = false;
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", standalone.httpPort()), 5000);
      s.setSoTimeout(1000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      for (int i = 0; i < head.length() && !closed; i++) {
        try {
          out.write(head.charAt(i));
          out.flush();
        } catch (java.io.IOException reset) {
          closed = true;
          break;
        }
        if (i < 30) continue; // the request line and the first header go out at once
        try {
          int b = in.read();
          long held = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
          assertEquals(-1, b, "the node read the trickled head to its end (" + held + " ms)");
          closed = true;
        } catch (java.net.SocketTimeoutException stillOpen) {
          // read on
        } catch (java.io.IOException reset) {
          closed = true;
        }
      }
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    System.out.println("a trickled request head was cut off after " + ms + " ms");
    assertTrue(closed, "the connection was still open after " + ms + " ms of a trickled head");
    // meanwhile and afterwards, a request that arrives whole is answered
    Raw normal = raw(request("GET", "/api/queue/stats", new byte[0], ""), Duration.ofSeconds(20));
    assertEquals(200, normal.status, normal.text);
  }

  @Example
  void aKeptConnectionServesItsNextRequestAfterTheClientThoughtLongerThanTheHeadLimit()
      throws Exception {
    // the head limit (10 s) is for a connection's first request; between requests the keep-alive
    // limit (60 s) applies, so a client that keeps its connection while it thinks is not cut off
    String get = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", standalone.httpPort()), 5000);
      s.setSoTimeout(20_000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      out.write(get.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      assertTrue(readAnswer(in).startsWith("HTTP/1.1 "), "first answer");
      TimeUnit.SECONDS.sleep(15); // the client's think time: the scenario, not a wait for the node
      out.write(get.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String second = readAnswer(in);
      assertTrue(second.startsWith("HTTP/1.1 "), "the kept connection was closed: " + second);
    }
  }

  /** One answer with a Content-Length body read off a kept connection; "" when it was closed. */
  private static String readAnswer(InputStream in) throws java.io.IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) return head.toString();
      head.append((char) b);
    }
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
    if (m.find()) in.readNBytes(Integer.parseInt(m.group(1)));
    return head.toString();
  }

  @Example
  void aBodyShorterThanItsContentLengthIsNotA5xx() throws Exception {
    byte[] body = "{\"payload\":{\"sourceCode\":\"1\"}}".getBytes(StandardCharsets.UTF_8);
    String head =
        "POST /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + api.token()
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + (body.length + 50)
            + "\r\n\r\n";
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", standalone.httpPort()), 5000);
      s.setSoTimeout(60_000);
      s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().write(body);
      s.shutdownOutput();
      byte[] answer = s.getInputStream().readAllBytes();
      if (answer.length > 0) {
        Raw r = Raw.parse(answer);
        assertTrue(r.status >= 400 && r.status < 500, r.text);
      }
    }
  }

  @Example
  void aBodyLargerThanTheLimitIsA413NamingTheBody() throws Exception {
    byte[] body =
        ("{\"payload\":{\"sourceCode\":\"" + "x".repeat(6 * 1024 * 1024) + "\"}}")
            .getBytes(StandardCharsets.UTF_8);
    HttpResponse<String> r =
        api.send("POST", "/api/tasks", new String(body, StandardCharsets.UTF_8));
    assertEquals(413, r.statusCode(), r.body());
    assertEquals("body", JSON.readTree(r.body()).path("field").asText(), r.body());
  }

  // ----------------------------------------------------------------

  private static String enc(String v) {
    return URLEncoder.encode(v, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static void answersWell(HttpResponse<String> r) throws Exception {
    answersWell(r.statusCode(), r.body(), r.headers());
  }

  /** No 5xx; a 4xx is a JSON error, and a 400 or 413 names the field. */
  private static void answersWell(int status, String body, java.net.http.HttpHeaders headers)
      throws Exception {
    assertTrue(status < 500, "answered " + status + ": " + body);
    if (status >= 400) {
      assertTrue(
          headers.firstValue("Content-Type").orElse("").contains("json"),
          status + " not JSON: " + body);
      JsonNode b = JSON.readTree(body);
      assertTrue(b.hasNonNull("error"), body);
      if (status == 400 || status == 413) {
        assertTrue(
            b.hasNonNull("field") && !b.path("field").asText().isBlank(),
            "a " + status + " naming no field: " + body);
      }
    }
  }

  private static byte[] request(String method, String path, byte[] body, String extraHeaders) {
    String head =
        method
            + " "
            + path
            + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + api.token()
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + body.length
            + "\r\nConnection: close\r\n"
            + extraHeaders
            + "\r\n";
    byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
    byte[] out = new byte[h.length + body.length];
    System.arraycopy(h, 0, out, 0, h.length);
    System.arraycopy(body, 0, out, h.length, body.length);
    return out;
  }

  private static Raw raw(byte[] request, Duration timeout) throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", standalone.httpPort()), 5000);
      s.setSoTimeout((int) timeout.toMillis());
      s.getOutputStream().write(request);
      s.getOutputStream().flush();
      return Raw.parse(s.getInputStream().readAllBytes());
    }
  }

  /**
   * A raw HTTP/1.1 answer: status and the text after the headers (chunked bodies are not expected
   * here).
   */
  record Raw(int status, String text) {
    static Raw parse(byte[] bytes) {
      String t = new String(bytes, StandardCharsets.UTF_8);
      assertNotNull(t);
      assertTrue(t.startsWith("HTTP/1.1 "), "not an HTTP answer: " + t);
      return new Raw(Integer.parseInt(t.substring(9, 12)), t);
    }

    String body() {
      int at = text.indexOf("\r\n\r\n");
      return at < 0 ? "" : text.substring(at + 4);
    }
  }
}
