package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.task.TaskSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * What each runtime needs is checked at submit time, so a task that cannot run is a 400 naming the
 * field.
 */
class TaskRequestTest {
  static final ObjectMapper JSON = new ObjectMapper();

  /** examples/fib.wasm of the README: one export, fib(i32) -> i64. */
  static final String FIB =
      base64(Path.of(System.getProperty("anchor.home", ".."), "examples", "fib.wasm"));

  /** add(i32, i32) -> i32 and mul(i32, i32) -> i32: two exports, no main. */
  static final String TWO_EXPORTS =
      "AGFzbQEAAAABBwFgAn9/AX8DAwIAAAcNAgNhZGQAAANtdWwAAQoRAgcAIAAgAWoLBwAgACABbAs=";

  static String base64(Path p) {
    try {
      return Base64.getEncoder().encodeToString(Files.readAllBytes(p));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static TaskSpec parse(String json) throws Exception {
    return TaskRequest.parse(JSON.readTree(json));
  }

  static String field(String json) {
    return assertThrows(BadRequest.class, () -> parse(json)).field();
  }

  @Test
  void aModuleWithOneExportNeedsNoEntry() throws Exception {
    TaskSpec t =
        parse("{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\"" + FIB + "\",\"args\":[10]}}");
    assertEquals("fib", t.entry());
  }

  @Test
  void wasmPayloadsThatCannotRunAreRefusedNamingTheField() {
    assertEquals(
        "payload.entry",
        field(
            "{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\""
                + TWO_EXPORTS
                + "\",\"args\":[1,2]}}"));
    assertEquals(
        "payload.entry",
        field(
            "{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\""
                + FIB
                + "\",\"entry\":\"main\",\"args\":[1]}}"));
    assertEquals(
        "payload.args", field("{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\"" + FIB + "\"}}"));
    assertEquals(
        "payload.args",
        field("{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\"" + FIB + "\",\"args\":[\"x\"]}}"));
    assertEquals(
        "payload.wasm", field("{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\"aGVsbG8=\"}}"));
    assertEquals("payload.wasm", field("{\"payload\":{\"runtime\":\"wasm\"}}"));
  }

  @Test
  void namingOneOfSeveralExportsWorks() throws Exception {
    TaskSpec t =
        parse(
            "{\"payload\":{\"runtime\":\"wasm\",\"wasm\":\""
                + TWO_EXPORTS
                + "\",\"entry\":\"mul\",\"args\":[6,7]}}");
    assertEquals("mul", t.entry());
  }

  @Test
  void scriptRuntimesNeedTheirScriptAndRuntimeDefaultsToJs() throws Exception {
    assertEquals("payload.sourceCode", field("{\"payload\":{\"runtime\":\"native\"}}"));
    assertEquals(
        "payload.sourceCode", field("{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"  \"}}"));
    assertEquals("js", parse("{\"payload\":{\"sourceCode\":\"1\"}}").runtime());
    assertEquals(
        "js", parse("{\"payload\":{\"runtime\":\"isolated-vm\",\"sourceCode\":\"1\"}}").runtime());
  }
}
