package dev.anchor.http;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;

/**
 * JSON in and out of the HTTP API, and the one shape of every error: {"error": "...", "field":
 * "..."}.
 */
public final class Json {
  public static final ObjectMapper MAPPER =
      new ObjectMapper()
          .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
          .configure(SerializationFeature.FAIL_ON_EMPTY_BEANS, false)
          .setSerializationInclusion(JsonInclude.Include.ALWAYS);

  /**
   * Reads request bodies: a key given twice is refused (parsers disagree on which one counts, so
   * accepting it lets a proxy check one value and Anchor use the other), and so is anything after
   * the first value.
   */
  private static final ObjectMapper STRICT =
      new ObjectMapper()
          .configure(DeserializationFeature.FAIL_ON_TRAILING_TOKENS, true)
          .configure(
              com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION, true);

  private Json() {}

  /**
   * A request body as a JSON tree, or a {@link BadRequest}: malformed JSON and a duplicate key name
   * where the parser stopped ({@code "payload.sourceCode"}, or {@code "body"} at the top level or
   * for a body cut short); a string that is not valid Unicode (an unpaired surrogate, which JSON's
   * backslash-u escapes can spell but UTF-8, CBOR and BSON cannot hold) names the field it is in.
   */
  public static JsonNode readBody(String body) {
    return readBody(body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /**
   * As {@link #readBody(String)}, from the bytes as they came: JSON is UTF-8, and bytes that are
   * not (which a decoding to text would have turned into U+FFFD silently) are a 400 naming the
   * field they are in.
   */
  public static JsonNode readBody(byte[] body) {
    JsonNode tree;
    try {
      tree = STRICT.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      String dup = duplicateKey(e);
      String at = where(e);
      if (dup != null) throw new BadRequest(at, "the key '" + dup + "' is given twice");
      throw new BadRequest(
          at,
          "malformed JSON"
              + (at.equals("body") ? "" : " at " + at)
              + ": "
              + e.getOriginalMessage());
    } catch (java.io.IOException e) {
      throw new BadRequest("body", "unreadable body: " + e.getMessage());
    }
    if (tree == null || tree.isMissingNode())
      throw new BadRequest("body", "the body is empty; a JSON object is expected");
    String bad = unpairedSurrogate(tree, "");
    if (bad != null) {
      throw new BadRequest(
          bad.isEmpty() ? "body" : bad,
          (bad.isEmpty() ? "the body" : bad)
              + " holds an unpaired surrogate (\\ud800-\\udfff alone), which is not a character");
    }
    return tree;
  }

  /**
   * The dotted path ({@code payload.sourceCode}, {@code tasks[2].id}) where the parser stopped (for
   * a duplicate key, the key itself); "body" at the top level.
   */
  private static String where(com.fasterxml.jackson.core.JsonProcessingException e) {
    // a body cut short is the body's fault, wherever it stopped
    if (e instanceof com.fasterxml.jackson.core.io.JsonEOFException) return "body";
    if (!(e.getProcessor() instanceof com.fasterxml.jackson.core.JsonParser p)) return "body";
    java.util.Deque<String> steps = new java.util.ArrayDeque<>();
    for (var c = p.getParsingContext(); c != null && !c.inRoot(); c = c.getParent()) {
      if (c.inObject() && c.getCurrentName() != null) steps.push("." + c.getCurrentName());
      else if (c.inArray()) steps.push("[" + Math.max(0, c.getCurrentIndex()) + "]");
    }
    String path = String.join("", steps);
    if (path.startsWith(".")) path = path.substring(1);
    return path.isEmpty() ? "body" : path;
  }

  private static String duplicateKey(com.fasterxml.jackson.core.JsonProcessingException e) {
    String m = e.getOriginalMessage();
    if (m == null || !m.startsWith("Duplicate field '")) return null;
    int end = m.indexOf('\'', "Duplicate field '".length());
    return end < 0 ? null : m.substring("Duplicate field '".length(), end);
  }

  /**
   * The path of the first string or key holding an unpaired surrogate, or null when there is none.
   */
  private static String unpairedSurrogate(JsonNode n, String path) {
    if (n.isTextual()) return isWellFormed(n.textValue()) ? null : path;
    if (n.isArray()) {
      for (int i = 0; i < n.size(); i++) {
        String bad = unpairedSurrogate(n.get(i), path + "[" + i + "]");
        if (bad != null) return bad;
      }
    } else if (n.isObject()) {
      for (var it = n.fields(); it.hasNext(); ) {
        var e = it.next();
        String child = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
        if (!isWellFormed(e.getKey())) return path.isEmpty() ? "body" : path;
        String bad = unpairedSurrogate(e.getValue(), child);
        if (bad != null) return bad;
      }
    }
    return null;
  }

  static boolean isWellFormed(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) return false;
        i++;
      } else if (Character.isLowSurrogate(c)) {
        return false;
      }
    }
    return true;
  }

  public static HttpResponse ok(Object body) {
    return response(StatusCodes.OK, body);
  }

  public static HttpResponse response(StatusCode status, Object body) {
    try {
      return HttpResponse.create()
          .withStatus(status)
          .withEntity(
              HttpEntities.create(ContentTypes.APPLICATION_JSON, MAPPER.writeValueAsBytes(body)));
    } catch (Exception e) {
      throw new IllegalStateException("cannot render JSON", e);
    }
  }

  public static HttpResponse error(StatusCode status, String message, String field) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("error", message);
    if (field != null) body.put("field", field);
    return response(status, body);
  }
}
