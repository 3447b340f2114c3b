package dev.anchor.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.app.AppSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class AppRequestTest {

  private static AppSpec parse(String json) throws Exception {
    return AppRequest.parse(Json.MAPPER.readTree(json), false);
  }

  private static String badField(String json, boolean allowCommands) throws Exception {
    JsonNode body = Json.MAPPER.readTree(json);
    return assertThrows(BadRequest.class, () -> AppRequest.parse(body, allowCommands)).field();
  }

  @Test
  void theReferenceBodyIsTheHelloApp() throws Exception {
    AppSpec s =
        parse(
            "{\"name\":\"My Web App\",\"type\":\"Web\",\"config\":{\"port\":8080,\"ram\":\"2048MB\",\"cpu\":2}}");
    assertEquals("My Web App", s.name());
    assertEquals(8080, s.port());
    assertEquals(2048, s.ramMb());
    assertEquals(2.0, s.cpu());
    assertEquals("index.js", s.entry());
    assertTrue(s.files().get("index.js").contains("<h1>Running on Anchor</h1>"));
    assertTrue(s.dependencies().get(0).startsWith("express"));
    assertEquals("/", s.healthPath());
  }

  @Test
  void ramTakesMegabytesGigabytesOrANumber() throws Exception {
    assertEquals(2048, parse("{\"config\":{\"ram\":\"2GB\"}}").ramMb());
    assertEquals(1536, parse("{\"config\":{\"ram\":\"1.5gb\"}}").ramMb());
    assertEquals(512, parse("{\"config\":{\"ram\":\"512m\"}}").ramMb());
    assertEquals(1024, parse("{\"config\":{\"ram\":1024}}").ramMb());
    assertEquals(AppRequest.DEFAULT_RAM_MB, parse("{}").ramMb());
    for (String bad : List.of("\"lots\"", "-5", "\"0MB\"", "\"2TB\"", "true")) {
      assertEquals("config.ram", badField("{\"config\":{\"ram\":" + bad + "}}", false), bad);
    }
  }

  @Test
  void badPortsCpusTypesAndCommandsNameTheirField() throws Exception {
    for (String bad : List.of("0", "70000", "\"8080\"", "80.5")) {
      assertEquals("config.port", badField("{\"config\":{\"port\":" + bad + "}}", false), bad);
    }
    for (String bad : List.of("-1", "0", "\"2\"")) {
      assertEquals("config.cpu", badField("{\"config\":{\"cpu\":" + bad + "}}", false), bad);
    }
    assertEquals("type", badField("{\"type\":\"Batch\"}", false));
    assertEquals("config.healthPath", badField("{\"config\":{\"healthPath\":\"health\"}}", false));
    assertEquals("command", badField("{\"command\":\"python3 -m http.server\"}", false));
    assertEquals(
        "python3 -m http.server",
        AppRequest.parse(Json.MAPPER.readTree("{\"command\":\"python3 -m http.server\"}"), true)
            .command());
    assertEquals(
        "command", badField("{\"command\":\"x\",\"source\":{\"files\":{\"a.js\":\"\"}}}", true));
  }

  @Test
  void ownSourceWithEntryDefaultsAndDependencies() throws Exception {
    AppSpec s =
        parse(
            "{\"source\":{\"files\":{\"server.js\":\"x\"},\"dependencies\":{\"express\":\"^4\"}}}");
    assertEquals("server.js", s.entry());
    assertEquals(List.of("express@^4"), s.dependencies());
    AppSpec main =
        parse(
            "{\"source\":{\"files\":{\"package.json\":\"{\\\"main\\\":\\\"srv.js\\\"}\",\"srv.js\":\"x\"}}}");
    assertEquals("srv.js", main.entry());
    assertEquals("source.entry", badField("{\"source\":{\"files\":{\"a.js\":\"x\"}}}", false));
    assertEquals(
        "source.files",
        badField("{\"source\":{\"files\":{\"../etc/passwd\":\"x\"},\"entry\":\"x\"}}", false));
    assertEquals("source.files", badField("{\"source\":{\"files\":{}}}", false));
    assertEquals(
        "source.dependencies",
        badField("{\"source\":{\"files\":{\"index.js\":\"x\"},\"dependencies\":[1]}}", false));
  }

  @Test
  void displayIsATopLevelBooleanWithItsSizeInConfig() throws Exception {
    AppSpec none = parse("{}");
    assertEquals(false, none.display());
    assertEquals(null, none.displaySize());
    AppSpec dflt = parse("{\"display\":true}");
    assertEquals(true, dflt.display());
    assertEquals("1280x720", dflt.displaySize());
    assertTrue(dflt.files().containsKey("index.js"), "the rest of the body is parsed as before");
    AppSpec sized =
        AppRequest.parse(
            Json.MAPPER.readTree(
                "{\"display\":true,\"config\":{\"displaySize\":\" 640X480 \"},\"command\":\"xclock\"}"),
            true);
    assertEquals("640x480", sized.displaySize());
    assertEquals(640, sized.displayDimensions()[0]);
    assertEquals(480, sized.displayDimensions()[1]);
    assertEquals("xclock", sized.command());
    assertEquals(false, parse("{\"display\":false}").display());
    for (String bad : List.of("\"yes\"", "1", "{}")) {
      assertEquals("display", badField("{\"display\":" + bad + "}", false), bad);
    }
    for (String bad : List.of("\"big\"", "1280", "\"10x10\"", "\"9000x720\"", "\"1280x\"")) {
      assertEquals(
          "config.displaySize",
          badField("{\"display\":true,\"config\":{\"displaySize\":" + bad + "}}", false),
          bad);
    }
    assertEquals(
        "config.displaySize", badField("{\"config\":{\"displaySize\":\"640x480\"}}", false));
    assertEquals("config.display", badField("{\"config\":{\"display\":true}}", false));
  }
}
