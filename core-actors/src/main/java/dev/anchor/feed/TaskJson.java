package dev.anchor.feed;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.anchor.task.TaskView;

/**
 * A task as clients read it: the view's fields, with {@code result} as the JSON value the code produced rather than
 * the text of it (a script that ends with {@code 6 * 7} has the result 42, not "42").
 */
public final class TaskJson {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private TaskJson() {}

  public static ObjectNode of(TaskView v) {
    ObjectNode node = MAPPER.valueToTree(v);
    if (v.result() != null) {
      try {
        node.set("result", MAPPER.readTree(v.result()));
      } catch (Exception notJson) {
        node.put("result", v.result());
      }
    }
    return node;
  }

  public static String write(TaskView v) {
    try {
      return MAPPER.writeValueAsString(of(v));
    } catch (Exception e) {
      throw new IllegalStateException("cannot render task " + v.taskId(), e);
    }
  }
}
