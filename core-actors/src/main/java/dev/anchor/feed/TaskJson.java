package dev.anchor.feed;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.io.SegmentedStringWriter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.anchor.task.TaskView;
import java.io.IOException;

/**
 * A task as clients read it: the view's fields, with {@code result} as the JSON value the code
 * produced rather than the text of it (a script that ends with {@code 6 * 7} has the result 42, not
 * "42").
 *
 * <p>Every task change is rendered once for the change feed, so {@link #write} streams the fields
 * straight to text (no intermediate tree, the result checked by a token scan rather than parsed
 * into nodes); it writes exactly what {@link #of} holds, field for field.
 */
public final class TaskJson {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final JsonFactory FACTORY = MAPPER.getFactory();

  private TaskJson() {}

  public static ObjectNode of(TaskView v) {
    ObjectNode node = MAPPER.valueToTree(v);
    if (v.result() != null) {
      if (isJson(v.result())) {
        try {
          node.set("result", MAPPER.readTree(v.result()));
        } catch (IOException cannotHappen) {
          node.put("result", v.result());
        }
      } else {
        node.put("result", v.result());
      }
    }
    return node;
  }

  public static String write(TaskView v) {
    try {
      // the verification part is rare and nested: the general path renders it
      if (v.verification() != null) return MAPPER.writeValueAsString(of(v));
      SegmentedStringWriter out = new SegmentedStringWriter(FACTORY._getBufferRecycler());
      try (JsonGenerator g = FACTORY.createGenerator(out)) {
        g.writeStartObject();
        g.writeStringField("taskId", v.taskId());
        g.writeStringField("name", v.name());
        g.writeStringField("type", v.type());
        g.writeStringField("status", v.status());
        g.writeFieldName("result");
        writeResult(g, v.result());
        g.writeStringField("error", v.error());
        g.writeStringField("errorKind", v.errorKind());
        g.writeStringField("logs", v.logs());
        g.writeNumberField("attempts", v.attempts());
        g.writeStringField("nodeId", v.nodeId());
        writeLong(g, "submittedAt", v.submittedAt());
        writeLong(g, "startedAt", v.startedAt());
        writeLong(g, "completedAt", v.completedAt());
        writeLong(g, "durationMs", v.durationMs());
        writeLong(g, "nextRetryAt", v.nextRetryAt());
        g.writeStringField("waitingReason", v.waitingReason());
        g.writeNumberField("priority", v.priority());
        g.writeStringField("runtime", v.runtime());
        g.writeFieldName("history");
        if (v.history() == null) {
          g.writeNull();
        } else {
          g.writeStartArray();
          for (TaskView.HistoryEntry h : v.history()) {
            g.writeStartObject();
            g.writeStringField("event", h.event());
            g.writeNumberField("at", h.at());
            g.writeNumberField("attempt", h.attempt());
            g.writeStringField("nodeId", h.nodeId());
            g.writeStringField("detail", h.detail());
            g.writeEndObject();
          }
          g.writeEndArray();
        }
        g.writeNullField("verification");
        g.writeEndObject();
      }
      return out.getAndClear();
    } catch (IOException e) {
      throw new IllegalStateException("cannot render task " + v.taskId(), e);
    }
  }

  /**
   * What a listing shows of a task (GET /api/tasks): taskId, name, status, runtime, priority,
   * attempts, nodeId, submittedAt, startedAt, completedAt, error, and nextRetryAt (a retry not yet
   * due) / verified when they apply; no logs, result or history.
   */
  public static String summary(TaskView v) {
    try {
      SegmentedStringWriter out = new SegmentedStringWriter(FACTORY._getBufferRecycler());
      try (JsonGenerator g = FACTORY.createGenerator(out)) {
        g.writeStartObject();
        g.writeStringField("taskId", v.taskId());
        g.writeStringField("name", v.name());
        g.writeStringField("status", v.status());
        g.writeStringField("runtime", v.runtime());
        g.writeNumberField("priority", v.priority());
        g.writeNumberField("attempts", v.attempts());
        g.writeStringField("nodeId", v.nodeId());
        writeLong(g, "submittedAt", v.submittedAt());
        writeLong(g, "startedAt", v.startedAt());
        writeLong(g, "completedAt", v.completedAt());
        g.writeStringField("error", v.error());
        // read by the state counters (StatusCounts): a retry is scheduled and not due yet; the task
        // is verified
        // (an entity keeps nextRetryAt after the retry started, and tells RetryDue once it is due)
        if (v.nextRetryAt() != null && v.nextRetryAt() > System.currentTimeMillis()) {
          g.writeNumberField("nextRetryAt", v.nextRetryAt());
        }
        if (v.verification() != null) g.writeBooleanField("verified", true);
        g.writeEndObject();
      }
      return out.getAndClear();
    } catch (IOException e) {
      throw new IllegalStateException("cannot render task " + v.taskId(), e);
    }
  }

  private static void writeLong(JsonGenerator g, String field, Long value) throws IOException {
    if (value == null) g.writeNullField(field);
    else g.writeNumberField(field, value);
  }

  private static void writeResult(JsonGenerator g, String result) throws IOException {
    if (result == null) g.writeNull();
    else if (isJson(result)) g.writeRawValue(result);
    else g.writeString(result);
  }

  /** Exactly one JSON value, nothing after it. */
  static boolean isJson(String text) {
    try (JsonParser p = FACTORY.createParser(text)) {
      if (p.nextToken() == null) return false;
      p.skipChildren();
      return p.nextToken() == null;
    } catch (IOException notJson) {
      return false;
    }
  }
}
