package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
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
 * The HTTP API of a standalone node, as a client sees it: errors, lookups, cancel, listing and
 * server-sent events.
 */
@org.junit.jupiter.api.Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class ApiIT {
  static final ObjectMapper JSON = ApiClient.JSON;

  @RegisterExtension static final AnchorCluster node = AnchorCluster.standalone();

  static ApiClient api() {
    return node.api();
  }

  static JsonNode body(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  static void assertBadRequest(String json, String field) throws Exception {
    HttpResponse<String> r = api().post("/api/tasks", json);
    assertEquals(400, r.statusCode(), r.body());
    JsonNode b = body(r);
    assertTrue(b.hasNonNull("error"), r.body());
    if (field != null) assertEquals(field, b.path("field").asText(), r.body());
  }

  String submit(String json) throws Exception {
    HttpResponse<String> r = api().post("/api/tasks", json);
    assertEquals(201, r.statusCode(), r.body());
    assertEquals("Queued", body(r).path("status").asText());
    return body(r).path("taskId").asText();
  }

  @Test
  void badInputIsA400NamingTheField() throws Exception {
    assertBadRequest("{\"name\": ", "body");
    assertBadRequest("[1,2]", "body");
    assertBadRequest(
        "{\"payload\":{\"sourceCode\":\"1\",\"runtime\":\"cobol\"}}", "payload.runtime");
    assertBadRequest("{\"payload\":{\"runtime\":\"js\"}}", "payload.sourceCode");
    assertBadRequest("{\"name\":\"x\"}", "payload");
    assertBadRequest(
        "{\"payload\":{\"sourceCode\":\"1\"},\"requirements\":{\"minRam\":-1}}",
        "requirements.minRam");
    assertBadRequest("{\"payload\":{\"sourceCode\":\"1\"},\"timeoutMs\":-5}", "timeoutMs");
    assertBadRequest("{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\"***\"}}", "payload.wasm");
    assertBadRequest(
        "{\"payload\":{\"sourceCode\":\"1\"},\"retries\":{\"attempts\":0}}", "retries.attempts");
  }

  @Test
  void bulkSubmitAcceptsAllOrNamesTheBadOne() throws Exception {
    HttpResponse<String> bad =
        api()
            .post(
                "/api/tasks/bulk",
                "{\"tasks\":[{\"payload\":{\"sourceCode\":\"1\"}},{\"payload\":{\"runtime\":\"js\"}}]}");
    assertEquals(400, bad.statusCode(), bad.body());
    assertEquals("tasks[1].payload.sourceCode", body(bad).path("field").asText());
    HttpResponse<String> ok =
        api()
            .post(
                "/api/tasks/bulk",
                "{\"tasks\":[{\"payload\":{\"sourceCode\":\"10 + 1\"}},{\"payload\":{\"sourceCode\":\"20 + 2\"}}]}");
    assertEquals(201, ok.statusCode(), ok.body());
    JsonNode ids = body(ok).path("taskIds");
    assertEquals(2, ids.size());
    assertEquals(
        11, api().awaitEnd(ids.get(0).asText(), Duration.ofSeconds(120)).path("result").asInt());
    assertEquals(
        22, api().awaitEnd(ids.get(1).asText(), Duration.ofSeconds(120)).path("result").asInt());
  }

  @Test
  void aBodyOverTheLimitIsRefusedWith413() throws Exception {
    String big = "{\"payload\":{\"sourceCode\":\"" + "x".repeat(6 * 1024 * 1024) + "\"}}";
    HttpResponse<String> r = api().post("/api/tasks", big);
    assertEquals(
        413, r.statusCode(), r.body().length() > 300 ? r.body().substring(0, 300) : r.body());
    assertTrue(body(r).hasNonNull("error"));
  }

  @Test
  void unknownIdsAre404() throws Exception {
    assertEquals(404, api().get("/api/tasks/00000000-0000-0000-0000-000000000000").statusCode());
    assertEquals(404, api().get("/api/tasks/not-a-task").statusCode());
    assertEquals(404, api().get("/api/nothing-here").statusCode());
  }

  @Test
  void aWasmModuleRunsItsExportWithTheGivenArgs() throws Exception {
    // (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
    String add = "AGFzbQEAAAABBwFgAn9/AX8DAgEABwcBA2FkZAAACgkBBwAgACABags=";
    String id =
        submit(
            "{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\""
                + add
                + "\",\"entry\":\"add\",\"args\":[2,40]}}");
    JsonNode t = api().awaitEnd(id, Duration.ofSeconds(120));
    assertEquals("Completed", t.path("status").asText(), t.toString());
    assertEquals(42, t.path("result").asInt(), t.toString());
  }

  @Test
  void aTaskNoNodeCanTakeWaitsQueuedWithTheReason() throws Exception {
    String id = submit("{\"payload\":{\"sourceCode\":\"1\"},\"requirements\":{\"minRam\":100000}}");
    JsonNode t =
        api().awaitTask(id, Duration.ofSeconds(60), v -> !v.path("waitingReason").isNull());
    assertEquals("Queued", t.path("status").asText(), t.toString());
    assertTrue(t.path("waitingReason").asText().contains("minRam"), t.toString());
    HttpResponse<String> r = api().delete("/api/tasks/" + id);
    assertEquals("Cancelled", body(r).path("status").asText(), r.body());
  }

  @Test
  void aScriptErrorFailsTheTaskOnceWithTheMessage() throws Exception {
    String id = submit("{\"payload\":{\"sourceCode\":\"throw new Error('boom')\"}}");
    JsonNode t = api().awaitEnd(id, Duration.ofSeconds(120));
    assertEquals("Failed", t.path("status").asText(), t.toString());
    assertTrue(t.path("error").asText().contains("boom"), t.toString());
    assertEquals(1, t.path("attempts").asInt(), "errors in user code are not retried: " + t);
  }

  @Test
  void cancelStopsARunningTaskAndTheNodeGoesOn() throws Exception {
    String id = submit("{\"payload\":{\"sourceCode\":\"while(true){}\"},\"timeoutMs\":120000}");
    api().awaitStatus(id, "Running", Duration.ofSeconds(120));
    HttpResponse<String> r = api().delete("/api/tasks/" + id);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("Cancelled", body(r).path("status").asText());
    // the node's job slot comes back: a task submitted after the cancel completes
    String next = submit("{\"payload\":{\"sourceCode\":\"[1,2,3].length\"}}");
    JsonNode t = api().awaitEnd(next, Duration.ofSeconds(120));
    assertEquals(3, t.path("result").asInt(), t.toString());
    assertEquals("Cancelled", body(api().get("/api/tasks/" + id)).path("status").asText());
  }

  @Test
  void aTaskStreamsItsStateChangesUntilItEnds() throws Exception {
    // busy for a second and a half, so the subscriber sees it before it ends
    // as a browser's EventSource, which cannot send headers: a read token in the access_token
    // parameter (made before the task starts: ./anchor token is a JVM start)
    String readToken = AnchorProcess.token("read");
    String id =
        submit(
            "{\"payload\":{\"sourceCode\":\"const t = Date.now(); while (Date.now() - t < 1500) {} input.a + input.b\"},"
                + "\"input\":{\"a\":2,\"b\":40}}");
    HttpResponse<java.io.InputStream> r =
        ApiClient.HTTP.send(
            HttpRequest.newBuilder(
                    URI.create(api().url("/api/tasks/" + id + "/events?access_token=" + readToken)))
                .timeout(Duration.ofSeconds(120))
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
    List<Sse> events =
        readSse(r, e -> false, 1000); // the server ends the stream when the task ends
    assertEquals("state", events.get(0).event(), events.toString());
    Sse last = events.get(events.size() - 1);
    assertTrue(events.size() > 1, "changes after the first snapshot are streamed: " + events);
    assertEquals("Completed", last.event(), events.toString());
    assertEquals(42, JSON.readTree(last.data()).path("result").asInt());
  }

  /** One server-sent event. */
  record Sse(String id, String event, String data) {}

  /**
   * Reads events until {@code stop} matches, {@code max} were read, or the server ends the stream.
   */
  static List<Sse> readSse(
      HttpResponse<java.io.InputStream> r, java.util.function.Predicate<Sse> stop, int max)
      throws Exception {
    List<Sse> out = new ArrayList<>();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body()))) {
      String line, id = null, event = null;
      StringBuilder data = null;
      while (out.size() < max && (line = in.readLine()) != null) {
        if (line.isEmpty()) {
          if (data != null) {
            Sse e = new Sse(id, event, data.toString());
            out.add(e);
            if (stop.test(e)) break;
          }
          id = null;
          event = null;
          data = null;
        } else if (line.startsWith("id:")) {
          id = line.substring(3).trim();
        } else if (line.startsWith("event:")) {
          event = line.substring(6).trim();
        } else if (line.startsWith("data:")) {
          data =
              (data == null ? new StringBuilder() : data.append('\n'))
                  .append(line.substring(5).trim());
        }
      }
    }
    return out;
  }

  @Test
  void theFeedResumesAfterLastEventIdWithoutGaps() throws Exception {
    // read a little of the whole feed, drop the connection, then resume from the last id seen
    List<Sse> first = readFeed(null, e -> true, 2);
    String resumeFrom = first.get(first.size() - 1).id();
    String missed = submit("{\"payload\":{\"sourceCode\":\"'while away'\"}}");
    api().awaitEnd(missed, Duration.ofSeconds(120));
    List<Sse> resumed =
        readFeed(resumeFrom, e -> e.data().contains(missed) && "Completed".equals(e.event()), 200);
    assertTrue(
        newer(resumed.get(0).id(), resumeFrom),
        "resumes after " + resumeFrom + ", got " + resumed.get(0).id());
    for (int i = 1; i < resumed.size(); i++)
      assertTrue(newer(resumed.get(i).id(), resumed.get(i - 1).id()), "in order");
    List<String> events =
        resumed.stream().filter(e -> e.data().contains(missed)).map(Sse::event).toList();
    // exactly the task's journaled history, in order (a fast worker's Started can overtake the
    // Dispatched record,
    // in which case the journal has no Dispatched step and neither may the feed)
    List<String> history = new ArrayList<>();
    for (JsonNode h : body(api().get("/api/tasks/" + missed)).path("history"))
      history.add(h.path("event").asText());
    assertEquals(
        List.of("Submitted", "Started", "Completed"),
        history.stream().filter(e -> !e.equals("Dispatched")).toList());
    assertEquals(history, events, "every change of the task made while away is delivered");
  }

  static boolean newer(String a, String b) {
    String[] x = a.split("-"), y = b.split("-");
    long c = Long.compare(Long.parseLong(x[0]), Long.parseLong(y[0]));
    return c > 0 || (c == 0 && Long.parseLong(x[1]) > Long.parseLong(y[1]));
  }

  /**
   * Reads GET /api/events (from Last-Event-ID if given) until {@code stop} matches or {@code max}
   * events.
   */
  List<Sse> readFeed(String lastEventId, java.util.function.Predicate<Sse> stop, int max)
      throws Exception {
    HttpRequest.Builder b = api().request("/api/events").timeout(Duration.ofSeconds(60));
    if (lastEventId != null) {
      b.header("Last-Event-ID", lastEventId);
    } else {
      // a fresh subscriber starts at "now": make a change once it is connected
      Thread poke =
          new Thread(
              () -> {
                try {
                  TimeUnit.MILLISECONDS.sleep(1000);
                  submit("{\"payload\":{\"sourceCode\":\"'poke'\"}}");
                } catch (Exception ignored) {
                  // the read below then times out and fails the test
                }
              });
      poke.start();
    }
    HttpResponse<java.io.InputStream> r =
        ApiClient.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, r.statusCode());
    return readSse(r, stop, max);
  }

  @Test
  void theFeedCanBeNarrowedToSomeKindsAndEvents() throws Exception {
    String id = submit("{\"payload\":{\"sourceCode\":\"'narrowed'\"}}");
    api().awaitEnd(id, Duration.ofSeconds(120));
    HttpResponse<java.io.InputStream> r =
        ApiClient.HTTP.send(
            api()
                .request("/api/events?kind=task&events=Completed,Failed")
                .header("Last-Event-ID", "0-0")
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, r.statusCode());
    List<Sse> got = readSse(r, e -> e.data().contains(id), 1_000_000);
    assertTrue(got.get(got.size() - 1).data().contains(id), "the task's end is on the feed");
    for (Sse e : got) {
      assertTrue(List.of("Completed", "Failed").contains(e.event()), e.event());
      assertTrue(body(e.data()).has("taskId"), e.data());
    }
    HttpResponse<String> badKind = api().get("/api/events?kind=tasks");
    assertEquals(400, badKind.statusCode(), badKind.body());
    assertEquals("kind", body(badKind).path("field").asText());
    assertEquals("events", body(api().get("/api/events?events=Comp-leted")).path("field").asText());
  }

  static JsonNode body(String json) throws Exception {
    return JSON.readTree(json);
  }

  @Test
  void listingFiltersByStatus() throws Exception {
    String id = submit("{\"name\":\"listed\",\"payload\":{\"sourceCode\":\"'ok'\"}}");
    api().awaitEnd(id, Duration.ofSeconds(120));
    JsonNode list = body(api().get("/api/tasks?status=Completed&limit=500"));
    boolean found = false;
    for (JsonNode t : list) {
      assertEquals("Completed", t.path("status").asText());
      found |= t.path("taskId").asText().equals(id);
    }
    assertTrue(found, list.toString());
    assertEquals(400, api().get("/api/tasks?limit=zero").statusCode());
  }

  @Test
  void queueStatsAndNodesAnswer() throws Exception {
    JsonNode stats = body(api().get("/api/queue/stats"));
    assertTrue(
        stats.path("total").has("waiting") && stats.path("total").has("deadLettered"),
        stats.toString());
    JsonNode nodes = body(api().get("/api/nodes"));
    assertEquals(1, nodes.size(), nodes.toString());
    JsonNode n = nodes.get(0);
    assertEquals("Online", n.path("status").asText());
    assertTrue(n.path("specs").path("cpuCores").asInt() > 0);
    assertTrue(
        n.path("metrics").has("cpuUsage")
            && n.path("metrics").has("ramUsage")
            && n.path("metrics").has("uptime"));
  }
}
