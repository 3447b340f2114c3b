package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.SpecVersion;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * /api/openapi.json is a valid OpenAPI 3.1 description (swagger-parser's validation) and does not
 * drift from the server: every route of AuthRoutesTest's table (which lists every guarded route) is
 * documented with the role it needs, every documented operation is in that table or open, and
 * AccessPolicy asks each documented operation for the role the description names. ReferenceApiIT
 * checks that every documented operation answers on a real node.
 */
class OpenApiTest {
  /** A documented operation: method, path template, the role in x-anchor-role. */
  record Op(String method, String template, String role) {
    boolean matches(String method, String path) {
      String p = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
      return this.method.equals(method) && p.matches(template.replaceAll("\\{[^}]+}", "[^/]+"));
    }

    /** The template with every parameter replaced by a sample value. */
    String sample() {
      return template.replaceAll("\\{[^}]+}", "x1");
    }
  }

  static List<Op> operations() throws Exception {
    JsonNode doc = Json.MAPPER.readTree(OpenApiRoutes.description());
    List<Op> ops = new ArrayList<>();
    doc.path("paths")
        .fields()
        .forEachRemaining(
            p ->
                p.getValue()
                    .fields()
                    .forEachRemaining(
                        m ->
                            ops.add(
                                new Op(
                                    m.getKey().toUpperCase(Locale.ROOT),
                                    p.getKey(),
                                    m.getValue().path("x-anchor-role").asText(null)))));
    return ops;
  }

  @Test
  void itIsAValidOpenApi31Description() {
    ParseOptions options = new ParseOptions();
    options.setResolve(true);
    options.setValidateInternalRefs(true);
    SwaggerParseResult r =
        new OpenAPIV3Parser()
            .readContents(
                new String(OpenApiRoutes.description(), StandardCharsets.UTF_8), null, options);
    assertEquals(List.of(), r.getMessages() == null ? List.of() : r.getMessages());
    OpenAPI api = r.getOpenAPI();
    assertNotNull(api);
    assertEquals(SpecVersion.V31, api.getSpecVersion());
    assertEquals("3.1.0", api.getOpenapi());
    // bodies and errors: every operation has an error answer or is open, every POST a body or none
    // by design
    api.getPaths()
        .forEach(
            (path, item) ->
                item.readOperationsMap()
                    .forEach(
                        (method, op) -> {
                          assertNotNull(op.getOperationId(), method + " " + path);
                          assertTrue(
                              op.getResponses().keySet().stream().anyMatch(c -> c.startsWith("2")),
                              method + " " + path + " has no success");
                        }));
  }

  @Test
  void theValidatorCatchesABrokenDescription() {
    // the same document with a dangling reference and a response without description: the parser
    // must object
    String broken =
        new String(OpenApiRoutes.description(), StandardCharsets.UTF_8)
            .replace("#/components/schemas/TaskCreated", "#/components/schemas/NoSuchSchema")
            .replaceFirst("\"description\": \"journaled and queued\",", "");
    ParseOptions options = new ParseOptions();
    options.setResolve(true);
    options.setValidateInternalRefs(true);
    SwaggerParseResult r = new OpenAPIV3Parser().readContents(broken, null, options);
    assertTrue(
        r.getMessages() != null
            && r.getMessages().stream().anyMatch(m -> m.contains("NoSuchSchema")),
        String.valueOf(r.getMessages()));
  }

  @Test
  void everyRouteOfTheAuthTableIsDocumentedWithItsRole() throws Exception {
    List<Op> ops = operations();
    for (AuthRoutesTest.Endpoint e : AuthRoutesTest.ENDPOINTS) {
      Op op =
          ops.stream()
              .filter(o -> o.matches(e.method(), e.path()))
              .findFirst()
              .orElseThrow(() -> new AssertionError("not in openapi.json: " + e));
      assertEquals(e.role(), op.role(), e + " is documented as " + op);
    }
  }

  @Test
  void everyDocumentedOperationIsGuardedAsDocumented() throws Exception {
    TreeSet<String> missing = new TreeSet<>();
    for (Op op : operations()) {
      assertNotNull(op.role(), op + " has no x-anchor-role");
      AccessPolicy.Access a = AccessPolicy.of(op.method(), op.sample());
      if (op.role().equals("open")) {
        assertTrue(a instanceof AccessPolicy.Open, op + " is documented open but needs " + a);
        continue;
      }
      assertTrue(
          a instanceof AccessPolicy.Needs n
              && n.role().name().toLowerCase(Locale.ROOT).equals(op.role()),
          op + " is guarded as " + a);
      if (AuthRoutesTest.ENDPOINTS.stream().noneMatch(e -> op.matches(e.method(), e.path())))
        missing.add(op.toString());
    }
    assertEquals(new TreeSet<>(), missing, "documented but not in AuthRoutesTest's table");
  }

  /** For ReferenceApiIT: the sample requests of every documented operation. */
  static List<Map.Entry<String, String>> samples() throws Exception {
    return operations().stream().map(o -> Map.entry(o.method(), o.sample())).toList();
  }
}
