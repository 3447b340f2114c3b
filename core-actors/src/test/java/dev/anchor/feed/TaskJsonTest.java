package dev.anchor.feed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.task.TaskView;
import java.util.List;
import org.junit.jupiter.api.Test;

class TaskJsonTest {
  static final ObjectMapper M = new ObjectMapper();

  static TaskView view(String result, List<TaskView.HistoryEntry> history) {
    return new TaskView(
        "t-1",
        "noop \"quoted\"",
        "script",
        "Completed",
        result,
        null,
        null,
        "line1\nline2",
        1,
        "n1",
        1000L,
        1020L,
        20L,
        null,
        null,
        -2,
        "js",
        history);
  }

  @Test
  void theStreamedRenderingHoldsExactlyWhatTheGeneralOneDoes() throws Exception {
    List<TaskView.HistoryEntry> h =
        List.of(
            new TaskView.HistoryEntry("Submitted", 1000, 1, null, null),
            new TaskView.HistoryEntry("Started", 1007, 1, "n1", null),
            new TaskView.HistoryEntry("Completed", 1020, 1, "n1", "ok"));
    for (String result :
        new String[] {
          null,
          "42",
          "\"text\"",
          "{\"a\":[1,2,{\"b\":null}]}",
          "not json",
          "1 2",
          "",
          "[1,",
          "NaN",
          "  true "
        }) {
      for (List<TaskView.HistoryEntry> history :
          java.util.Arrays.asList(h, List.<TaskView.HistoryEntry>of(), null)) {
        TaskView v = view(result, history);
        JsonNode streamed = M.readTree(TaskJson.write(v));
        assertEquals(
            M.readTree(M.writeValueAsString(TaskJson.of(v))), streamed, "result " + result);
        // and the general rendering is the record's own fields, result aside
        JsonNode plain = M.valueToTree(v);
        plain.fieldNames().forEachRemaining(f -> assertTrue(streamed.has(f), f));
        assertEquals(plain.size(), streamed.size());
      }
    }
  }

  @Test
  void startedAtIsWhenTheLastAttemptBeganRunningAndNullBeforeAnyDid() throws Exception {
    List<TaskView.HistoryEntry> twoAttempts =
        List.of(
            new TaskView.HistoryEntry("Submitted", 1000, 1, null, null),
            new TaskView.HistoryEntry("Started", 1005, 1, "n1", null),
            new TaskView.HistoryEntry("RetryScheduled", 1010, 1, "n1", null),
            new TaskView.HistoryEntry("Started", 1500, 2, "n2", null),
            new TaskView.HistoryEntry("Completed", 1520, 2, "n2", null));
    assertEquals(
        1500, M.readTree(TaskJson.write(view("1", twoAttempts))).get("startedAt").asLong());
    assertEquals(
        1500, M.readTree(TaskJson.summary(view("1", twoAttempts))).get("startedAt").asLong());
    JsonNode queued =
        M.readTree(
            TaskJson.write(
                view(null, List.of(new TaskView.HistoryEntry("Submitted", 1000, 1, null, null)))));
    assertTrue(queued.has("startedAt") && queued.get("startedAt").isNull());
  }

  @Test
  void aResultIsItsJsonValueWhenItIsOneAndItsTextOtherwise() throws Exception {
    assertEquals(42, M.readTree(TaskJson.write(view("42", List.of()))).get("result").asInt());
    assertEquals("1 2", M.readTree(TaskJson.write(view("1 2", List.of()))).get("result").asText());
    assertEquals(
        "not json", M.readTree(TaskJson.write(view("not json", List.of()))).get("result").asText());
    assertTrue(TaskJson.isJson(" {\"a\":1} "));
    assertFalse(TaskJson.isJson("{\"a\":1} x"));
    assertFalse(TaskJson.isJson(""));
  }

  @Test
  void theSummaryIsWhatAListingShows() throws Exception {
    JsonNode s = M.readTree(TaskJson.summary(view("42", List.of())));
    assertEquals(
        List.of(
            "taskId",
            "name",
            "status",
            "runtime",
            "priority",
            "attempts",
            "nodeId",
            "submittedAt",
            "startedAt",
            "completedAt",
            "error"),
        iterable(s));
    assertEquals("noop \"quoted\"", s.get("name").asText());
    assertEquals(-2, s.get("priority").asInt());
    assertTrue(s.get("error").isNull());
  }

  static List<String> iterable(JsonNode n) {
    List<String> out = new java.util.ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
