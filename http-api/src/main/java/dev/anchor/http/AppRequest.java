package dev.anchor.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.anchor.app.AppSpec;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The body of POST /api/clusters: the reference system's {@code
 * {"name","type":"Web","config":{"port","ram","cpu"}}}, optionally with {@code source: {files,
 * entry, dependencies}} or {@code command}, and {@code config.healthPath}. Every mistake is a
 * {@link BadRequest} naming its field.
 */
final class AppRequest {
  static final int DEFAULT_PORT = 8080;
  static final long DEFAULT_RAM_MB = 512;
  static final double DEFAULT_CPU = 1;
  private static final Pattern RAM =
      Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*(mb|m|mib|gb|g|gib)?\\s*");
  private static final int MAX_FILES = 200;

  private AppRequest() {}

  private static final Pattern DISPLAY_SIZE =
      Pattern.compile("\\s*(\\d{1,5})\\s*[xX]\\s*(\\d{1,5})\\s*");
  static final int MIN_DISPLAY_SIDE = 16;
  static final int MAX_DISPLAY_SIDE = 8192;

  static AppSpec parse(JsonNode body, boolean allowCommands) {
    boolean display = display(body);
    String size = displaySize(body.get("config"), display);
    AppSpec spec = parseApp(body, allowCommands);
    return display ? spec.withDisplay(true, size) : spec;
  }

  /** {@code "display": true} (top level): the app gets a virtual X display of its own. */
  private static boolean display(JsonNode body) {
    JsonNode config = body.get("config");
    if (config != null && config.isObject() && config.has("display")) {
      throw new BadRequest(
          "config.display",
          "display goes at the top level of the body (\"display\": true), "
              + "its size in config.displaySize");
    }
    JsonNode d = body.get("display");
    if (d == null || d.isNull()) return false;
    if (!d.isBoolean()) throw new BadRequest("display", "display must be true or false, not " + d);
    return d.asBoolean();
  }

  /**
   * {@code config.displaySize}: {@code "WIDTHxHEIGHT"}, each 16–8192 (default 1280x720); only with
   * a display.
   */
  private static String displaySize(JsonNode config, boolean display) {
    JsonNode n = config == null || !config.isObject() ? null : config.get("displaySize");
    if (n == null || n.isNull()) return AppSpec.DEFAULT_DISPLAY_SIZE;
    if (!display)
      throw new BadRequest("config.displaySize", "config.displaySize needs \"display\": true");
    Matcher m = n.isTextual() ? DISPLAY_SIZE.matcher(n.asText()) : null;
    if (m == null || !m.matches()) {
      throw new BadRequest(
          "config.displaySize",
          "config.displaySize must be \"WIDTHxHEIGHT\" such as \"1280x720\", not " + n);
    }
    int w = Integer.parseInt(m.group(1));
    int h = Integer.parseInt(m.group(2));
    if (w < MIN_DISPLAY_SIDE
        || h < MIN_DISPLAY_SIDE
        || w > MAX_DISPLAY_SIDE
        || h > MAX_DISPLAY_SIDE) {
      throw new BadRequest(
          "config.displaySize",
          "config.displaySize must be "
              + MIN_DISPLAY_SIDE
              + "–"
              + MAX_DISPLAY_SIDE
              + " pixels each way, not "
              + w
              + "x"
              + h);
    }
    return w + "x" + h;
  }

  private static AppSpec parseApp(JsonNode body, boolean allowCommands) {
    String name = text(body, "name", "app", "name");
    if (name.length() > 200) throw new BadRequest("name", "name is longer than 200 characters");
    JsonNode typeNode = body.get("type");
    String type =
        typeNode == null || typeNode.isNull()
            ? "Web"
            : typeNode.isTextual() ? typeNode.asText() : null;
    if (type == null || !type.equalsIgnoreCase("web")) {
      throw new BadRequest(
          "type",
          "unknown type "
              + (typeNode == null ? "" : typeNode.toString())
              + "; the only type is \"Web\" (a long-lived HTTP app)");
    }
    JsonNode config = body.get("config");
    if (config != null && !config.isNull() && !config.isObject()) {
      throw new BadRequest("config", "config must be an object");
    }
    if (config == null || config.isNull()) config = Json.MAPPER.createObjectNode();
    int port = port(config.get("port"));
    long ramMb = ramMb(config.get("ram"));
    double cpu = cpu(config.get("cpu"));
    String healthPath = text(config, "healthPath", "/", "config.healthPath");
    if (!healthPath.startsWith("/"))
      throw new BadRequest("config.healthPath", "config.healthPath must start with /");

    JsonNode command = body.get("command");
    JsonNode source = body.get("source");
    boolean hasSource = source != null && !source.isNull();
    if (command != null && !command.isNull()) {
      if (!command.isTextual() || command.asText().isBlank()) {
        throw new BadRequest("command", "command must be a non-empty string (run with /bin/sh -c)");
      }
      if (hasSource) throw new BadRequest("command", "give either source or command, not both");
      if (!allowCommands) {
        throw new BadRequest(
            "command",
            "this cluster does not run command apps (ANCHOR_APPS_ALLOW_COMMANDS=off); "
                + "give source.files for a Node.js app");
      }
      return new AppSpec(
          name,
          "Web",
          port,
          ramMb,
          cpu,
          Map.of(),
          null,
          List.of(),
          command.asText(),
          healthPath,
          false,
          null);
    }
    if (!hasSource) return AppSpec.hello(name, "Web", port, ramMb, cpu, healthPath);
    if (!source.isObject())
      throw new BadRequest("source", "source must be an object {files, entry, dependencies}");
    JsonNode files = source.get("files");
    if (files == null || !files.isObject() || files.isEmpty()) {
      throw new BadRequest(
          "source.files", "source.files must be an object of file name to content");
    }
    if (files.size() > MAX_FILES)
      throw new BadRequest("source.files", "at most " + MAX_FILES + " files");
    Map<String, String> fileMap = new LinkedHashMap<>();
    for (var it = files.fields(); it.hasNext(); ) {
      var e = it.next();
      String fname = e.getKey();
      if (fname.isBlank()
          || fname.startsWith("/")
          || fname.contains("..")
          || fname.contains("\\")
          || fname.contains("\0")) {
        throw new BadRequest(
            "source.files", "file name '" + fname + "' must be a relative path inside the app");
      }
      if (!e.getValue().isTextual()) {
        throw new BadRequest(
            "source.files." + fname, "the content of " + fname + " must be a string");
      }
      fileMap.put(fname, e.getValue().asText());
    }
    String entry = text(source, "entry", null, "source.entry");
    if (entry == null) entry = defaultEntry(fileMap);
    if (entry == null || !fileMap.containsKey(entry)) {
      throw new BadRequest(
          "source.entry",
          entry == null
              ? "source.entry is required when there is no index.js (or package.json main)"
              : "source.entry '" + entry + "' is not one of source.files");
    }
    return new AppSpec(
        name,
        "Web",
        port,
        ramMb,
        cpu,
        fileMap,
        entry,
        dependencies(source.get("dependencies")),
        null,
        healthPath,
        false,
        null);
  }

  private static String defaultEntry(Map<String, String> files) {
    String pkg = files.get("package.json");
    if (pkg != null) {
      try {
        JsonNode main = Json.MAPPER.readTree(pkg).get("main");
        if (main != null && main.isTextual()) return main.asText();
      } catch (Exception e) {
        throw new BadRequest("source.files.package.json", "package.json is not valid JSON");
      }
    }
    for (String f : List.of("index.js", "server.js", "app.js", "main.js")) {
      if (files.containsKey(f)) return f;
    }
    return null;
  }

  /** An array of specs ("express@^4"), or an object like package.json's ({"express":"^4"}). */
  private static List<String> dependencies(JsonNode deps) {
    if (deps == null || deps.isNull()) return List.of();
    List<String> out = new ArrayList<>();
    if (deps.isArray()) {
      for (JsonNode d : deps) {
        if (!d.isTextual())
          throw new BadRequest("source.dependencies", "source.dependencies must hold strings");
        out.add(d.asText());
      }
    } else if (deps.isObject()) {
      deps.fields()
          .forEachRemaining(
              e -> {
                if (!e.getValue().isTextual())
                  throw new BadRequest("source.dependencies", "versions must be strings");
                out.add(e.getKey() + "@" + e.getValue().asText());
              });
    } else {
      throw new BadRequest(
          "source.dependencies", "source.dependencies must be an array or an object");
    }
    return out;
  }

  static int port(JsonNode n) {
    if (n == null || n.isNull()) return DEFAULT_PORT;
    if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() < 1 || n.asInt() > 65535) {
      throw new BadRequest(
          "config.port", "config.port must be a whole number from 1 to 65535, not " + n);
    }
    return n.asInt();
  }

  /** "2048MB", "2GB", "512m", or a number of MB. */
  static long ramMb(JsonNode n) {
    if (n == null || n.isNull()) return DEFAULT_RAM_MB;
    double mb;
    if (n.isNumber()) {
      mb = n.asDouble();
    } else if (n.isTextual()) {
      Matcher m = RAM.matcher(n.asText());
      if (!m.matches()) {
        throw new BadRequest(
            "config.ram",
            "config.ram must be like \"2048MB\", \"2GB\" or a number of MB, not " + n);
      }
      double v = new BigDecimal(m.group(1)).doubleValue();
      String unit = m.group(2) == null ? "mb" : m.group(2).toLowerCase(Locale.ROOT);
      mb = unit.startsWith("g") ? v * 1024 : v;
    } else {
      throw new BadRequest(
          "config.ram", "config.ram must be like \"2048MB\", \"2GB\" or a number of MB, not " + n);
    }
    if (!(mb >= 16) || mb > 1024L * 1024) {
      throw new BadRequest("config.ram", "config.ram must be from 16 MB to 1 TB, not " + n);
    }
    return Math.round(mb);
  }

  static double cpu(JsonNode n) {
    if (n == null || n.isNull()) return DEFAULT_CPU;
    if (!n.isNumber() || !(n.asDouble() > 0) || n.asDouble() > 1024) {
      throw new BadRequest("config.cpu", "config.cpu must be a positive number of cores, not " + n);
    }
    return n.asDouble();
  }

  private static String text(JsonNode obj, String field, String dflt, String label) {
    JsonNode n = obj.get(field);
    if (n == null || n.isNull()) return dflt;
    if (!n.isTextual()) throw new BadRequest(label, label + " must be a string");
    return n.asText();
  }
}
