package dev.anchor.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Parses the Prometheus text format with a real parser, the Prometheus Python client's ({@code
 * prometheus_client.parser.text_string_to_metric_families}, Debian package
 * python3-prometheus-client, in .ci/system-packages): a malformed exposition fails the parse.
 * Answers every sample as {@code name{label="value",…}} (labels sorted) → value, plus {@code #TYPE
 * name} → the family's type.
 */
public final class PrometheusText {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final String SCRIPT =
      """
      import sys, json
      from prometheus_client.parser import text_string_to_metric_families
      out = {}
      for f in text_string_to_metric_families(sys.stdin.read()):
          out['#TYPE ' + f.name] = f.type
          for s in f.samples:
              labels = ','.join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
              out[s.name + ('{' + labels + '}' if labels else '')] = s.value
      json.dump(out, sys.stdout)
      """;

  private PrometheusText() {}

  /** Skips the calling test (with the reason) where the parser is not installed. */
  public static void assumeParser() {
    boolean ok = Files.isExecutable(PYTHON);
    if (ok) {
      try {
        Process p =
            new ProcessBuilder(PYTHON.toString(), "-c", "import prometheus_client.parser").start();
        ok = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
      } catch (IOException | InterruptedException e) {
        ok = false;
      }
    }
    Assumptions.assumeTrue(
        ok, "the Prometheus text parser is missing: apt-get install python3-prometheus-client");
  }

  public static Map<String, Object> parse(String text) throws Exception {
    Process p =
        new ProcessBuilder(PYTHON.toString(), "-c", SCRIPT).redirectErrorStream(false).start();
    p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(
          "the Prometheus parser refused the exposition: " + err + "\n" + text);
    }
    Map<String, Object> samples = new TreeMap<>();
    JsonNode json = new ObjectMapper().readTree(out);
    json.fields()
        .forEachRemaining(
            e ->
                samples.put(
                    e.getKey(),
                    e.getValue().isNumber()
                        ? (Object) e.getValue().asDouble()
                        : e.getValue().asText()));
    return samples;
  }
}
