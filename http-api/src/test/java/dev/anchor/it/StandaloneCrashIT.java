package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A standalone node (embedded MongoDB-wire store and Redis, data under its data dir) runs tasks, is
 * killed with -9, and after a restart on the same data dir still knows every task with its result:
 * the journal survived the crash.
 */
@org.junit.jupiter.api.Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
class StandaloneCrashIT {
  static final ObjectMapper JSON = ApiClient.JSON;

  @TempDir Path tmp;

  @Test
  void journalSurvivesKill9AndRestart() throws Exception {
    Path data = tmp.resolve("data");
    int port = AnchorProcess.freePort();
    Map<String, String> results = new HashMap<>();
    List<String> ids = new ArrayList<>();
    String retrying;
    try (AnchorProcess first = AnchorProcess.start("standalone", data, port, Map.of())) {
      ApiClient api = first.awaitHealthy(Duration.ofSeconds(150)).api();
      JsonNode health = api.json("/health");
      assertEquals("ok", health.path("store").path("status").asText(), health.toString());
      assertEquals("ok", health.path("queue").path("status").asText(), health.toString());
      for (int i = 1; i <= 5; i++) {
        HttpResponse<String> r =
            api.post(
                "/api/tasks",
                """
            {"name":"square %d","type":"script","payload":{"sourceCode":"input.n * input.n","runtime":"js"},"input":{"n":%d}}
            """
                    .formatted(i, i));
        assertEquals(201, r.statusCode(), r.body());
        ids.add(JSON.readTree(r.body()).path("taskId").asText());
      }
      for (int i = 0; i < ids.size(); i++) {
        JsonNode done = api.awaitStatus(ids.get(i), "Completed", Duration.ofSeconds(120));
        assertEquals(
            String.valueOf((i + 1) * (i + 1)), done.path("result").asText(), done.toString());
        results.put(ids.get(i), done.path("result").asText());
      }
      // one more accepted just before the crash: journaled, maybe not yet run
      HttpResponse<String> late =
          api.post(
              "/api/tasks",
              """
          {"name":"late","payload":{"sourceCode":"6 * 7","runtime":"js"}}""");
      assertEquals(201, late.statusCode(), late.body());
      ids.add(JSON.readTree(late.body()).path("taskId").asText());
      results.put(ids.get(ids.size() - 1), "42");
      // and one whose retry is scheduled at the crash: nothing but the restarted coordinator itself
      // can run it then
      HttpResponse<String> r =
          api.post(
              "/api/tasks",
              """
          {"name":"retrying","payload":{"sourceCode":"throw new Error('no')","runtime":"js"},
           "retries":{"attempts":2,"backoffMs":8000,"retryUserErrors":true}}""");
      assertEquals(201, r.statusCode(), r.body());
      retrying = JSON.readTree(r.body()).path("taskId").asText();
      api.awaitTask(retrying, Duration.ofSeconds(120), t -> !t.path("nextRetryAt").isNull());
      first.kill9();
    }
    assertTrue(
        Files.exists(data.resolve("mongo.mv")),
        "the embedded store keeps its file under the data dir");

    try (AnchorProcess second = AnchorProcess.start("standalone", data, port, Map.of())) {
      ApiClient api = second.awaitHealthy(Duration.ofSeconds(150)).api();
      // watched through the listing only: reading a task itself would start its entity, and the
      // point is that the
      // coordinator starts its unfinished tasks by itself
      JsonNode retried = api.awaitListed(retrying, "Failed", Duration.ofSeconds(120));
      assertEquals(2, retried.path("attempts").asInt(), retried.toString());
      for (String id : ids) {
        JsonNode task = api.awaitStatus(id, "Completed", Duration.ofSeconds(120));
        assertEquals(results.get(id), task.path("result").asText(), task.toString());
        long completions = 0;
        for (JsonNode h : task.path("history"))
          if (h.path("event").asText().equals("Completed")) completions++;
        assertEquals(1, completions, "a result is recorded once: " + task);
      }
    }
  }
}
