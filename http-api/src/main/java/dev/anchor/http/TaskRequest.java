package dev.anchor.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.runtime.wasm.WasmEntry;
import dev.anchor.task.Runtimes;
import dev.anchor.task.TaskSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;

/**
 * Reads and checks a POST /api/tasks body (the reference system's shape) into a {@link TaskSpec};
 * every problem is a {@link BadRequest} naming the JSON field.
 */
final class TaskRequest {
  static final long MAX_TIMEOUT_MS = 10 * 60_000;

  private TaskRequest() {}

  static TaskSpec parse(JsonNode body) {
    if (body == null || !body.isObject())
      throw new BadRequest("body", "the body must be a JSON object");
    String name = text(body, "name", false);
    String type = text(body, "type", false);
    JsonNode payload = body.get("payload");
    if (payload == null || payload.isNull()) throw new BadRequest("payload", "payload is required");
    if (!payload.isObject()) throw new BadRequest("payload", "payload must be an object");
    String runtime =
        Runtimes.canonical(
            payload.hasNonNull("runtime")
                ? text(payload, "runtime", "payload.runtime", true)
                : Runtimes.JS);
    if (!Runtimes.ALL.contains(runtime)) {
      throw new BadRequest(
          "payload.runtime",
          "unknown runtime '"
              + payload.get("runtime").asText()
              + "' (js, isolated-vm, wasm, native)");
    }
    String source =
        payload.hasNonNull("sourceCode")
            ? text(payload, "sourceCode", "payload.sourceCode", true)
            : null;
    String wasm = null;
    String entry = null;
    List<Number> args = List.of();
    if (runtime.equals(Runtimes.WASM)) {
      wasm = text(payload, "wasm", "payload.wasm", true);
      byte[] module;
      try {
        module = Base64.getDecoder().decode(wasm.replaceAll("\\s", ""));
      } catch (IllegalArgumentException e) {
        throw new BadRequest("payload.wasm", "payload.wasm is not valid base64: " + e.getMessage());
      }
      entry = payload.hasNonNull("entry") ? text(payload, "entry", "payload.entry", true) : null;
      args = numbers(payload.get("args"), "payload.args");
      // refused now rather than failing on a node: a module that is none, a missing entry, a wrong
      // argument count
      try {
        entry = WasmEntry.resolve(module, entry, args.size());
      } catch (WasmEntry.Problem p) {
        throw new BadRequest(
            "payload." + p.field(), "payload." + p.field() + ": " + p.getMessage());
      }
    } else if (source == null || source.isBlank()) {
      throw new BadRequest(
          "payload.sourceCode", "payload.sourceCode is required for runtime " + runtime);
    }
    List<String> deps = strings(payload.get("dependencies"), "payload.dependencies");
    JsonNode input = body.has("input") ? body.get("input") : payload.get("input");
    String inputJson = input == null || input.isMissingNode() ? null : input.toString();

    double minRam = 0;
    boolean gpu = false;
    JsonNode req = body.get("requirements");
    if (req != null && !req.isNull()) {
      if (!req.isObject()) throw new BadRequest("requirements", "requirements must be an object");
      if (req.has("minRam") && !req.get("minRam").isNull()) {
        if (!req.get("minRam").isNumber())
          throw new BadRequest("requirements.minRam", "requirements.minRam must be a number (GB)");
        minRam = req.get("minRam").asDouble();
        if (minRam < 0)
          throw new BadRequest("requirements.minRam", "requirements.minRam must not be negative");
      }
      if (req.has("gpuRequired") && !req.get("gpuRequired").isNull()) {
        if (!req.get("gpuRequired").isBoolean())
          throw new BadRequest(
              "requirements.gpuRequired", "requirements.gpuRequired must be true or false");
        gpu = req.get("gpuRequired").asBoolean();
      }
    }
    Long timeoutMs = null;
    if (body.hasNonNull("timeoutMs")) {
      JsonNode t = body.get("timeoutMs");
      if (!t.canConvertToLong()
          || !t.isIntegralNumber()
          || t.asLong() <= 0
          || t.asLong() > MAX_TIMEOUT_MS) {
        throw new BadRequest(
            "timeoutMs",
            "timeoutMs must be a whole number of milliseconds from 1 to " + MAX_TIMEOUT_MS);
      }
      timeoutMs = t.asLong();
    }
    TaskSpec.RetryPolicy retries = null;
    JsonNode r = body.get("retries");
    if (r != null && !r.isNull()) {
      if (!r.isObject())
        throw new BadRequest("retries", "retries must be an object {attempts, backoffMs}");
      int attempts =
          intIn(r, "attempts", "retries.attempts", 1, 100, TaskSpec.RetryPolicy.DEFAULT_ATTEMPTS);
      long backoff =
          intIn(
              r,
              "backoffMs",
              "retries.backoffMs",
              1,
              3_600_000,
              (int) TaskSpec.RetryPolicy.DEFAULT_BACKOFF_MS);
      boolean userErrors = r.path("retryUserErrors").asBoolean(false);
      retries = new TaskSpec.RetryPolicy(attempts, backoff, userErrors);
    }
    int priority = 0;
    if (body.hasNonNull("priority")) {
      JsonNode p = body.get("priority");
      if (!p.isIntegralNumber() || !p.canConvertToInt())
        throw new BadRequest("priority", "priority must be a whole number (higher runs first)");
      priority = p.asInt();
    }
    return new TaskSpec(
        name == null ? "task" : name,
        type,
        runtime,
        source,
        wasm,
        entry,
        args,
        deps,
        inputJson,
        new TaskSpec.Requirements(minRam, gpu),
        timeoutMs,
        retries,
        priority,
        verification(body.get("verification")));
  }

  /**
   * {"replicas":3,"quorum":2,"maxReplicas":5,"policy":"fixed"|"adaptive"}; absent or null = no
   * verification.
   */
  static TaskSpec.Verification verification(JsonNode v) {
    if (v == null || v.isNull()) return null;
    if (!v.isObject()) {
      throw new BadRequest(
          "verification", "verification must be an object {replicas, quorum, maxReplicas, policy}");
    }
    for (var it = v.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!Set.of("replicas", "quorum", "maxReplicas", "policy").contains(f)) {
        throw new BadRequest(
            "verification." + f,
            "verification has no field '" + f + "' (replicas, quorum, maxReplicas, policy)");
      }
    }
    String policy = text(v, "policy", "verification.policy", false);
    Integer replicas = optionalInt(v, "replicas");
    if (replicas == null && !TaskSpec.Verification.ADAPTIVE.equals(policy)) {
      throw new BadRequest(
          "verification.replicas",
          "verification.replicas is required (2 to " + TaskSpec.Verification.MAX_REPLICAS + ")");
    }
    TaskSpec.Verification ver =
        TaskSpec.Verification.of(
            replicas, optionalInt(v, "quorum"), optionalInt(v, "maxReplicas"), policy);
    String problem = ver.problem();
    if (problem != null) {
      int colon = problem.indexOf(':');
      String field = problem.substring(0, colon);
      throw new BadRequest(
          "verification." + field, "verification." + field + problem.substring(colon));
    }
    return ver;
  }

  private static Integer optionalInt(JsonNode o, String key) {
    JsonNode v = o.get(key);
    if (v == null || v.isNull()) return null;
    if (!v.isIntegralNumber() || !v.canConvertToInt()) {
      throw new BadRequest(
          "verification." + key, "verification." + key + " must be a whole number");
    }
    return v.asInt();
  }

  private static int intIn(JsonNode o, String key, String field, int min, int max, int dflt) {
    JsonNode v = o.get(key);
    if (v == null || v.isNull()) return dflt;
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
      throw new BadRequest(field, field + " must be a whole number from " + min + " to " + max);
    }
    return v.asInt();
  }

  private static String text(JsonNode o, String key, boolean required) {
    return text(o, key, key, required);
  }

  private static String text(JsonNode o, String key, String field, boolean required) {
    JsonNode v = o.get(key);
    if (v == null || v.isNull()) {
      if (required) throw new BadRequest(field, field + " is required");
      return null;
    }
    if (!v.isTextual()) throw new BadRequest(field, field + " must be a string");
    return v.asText();
  }

  private static List<String> strings(JsonNode v, String field) {
    if (v == null || v.isNull()) return List.of();
    if (!v.isArray()) throw new BadRequest(field, field + " must be an array of strings");
    List<String> out = new ArrayList<>();
    for (JsonNode e : v) {
      if (!e.isTextual() || e.asText().isBlank())
        throw new BadRequest(field, field + " must hold package names (strings)");
      out.add(e.asText());
    }
    return out;
  }

  private static List<Number> numbers(JsonNode v, String field) {
    if (v == null || v.isNull()) return List.of();
    if (!v.isArray()) throw new BadRequest(field, field + " must be an array of numbers");
    List<Number> out = new ArrayList<>();
    for (JsonNode e : v) {
      if (!e.isNumber()) throw new BadRequest(field, field + " must hold numbers only");
      out.add(e.numberValue());
    }
    return out;
  }
}
