package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.*;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Authentication as an operator meets it: a standalone with no secret generates one and prints a
 * signed-in link, {@code ./anchor token} signs with that secret, a coordinator without a secret
 * refuses to start, and {@code ANCHOR_AUTH=off} opens the API with a warning.
 */
@org.junit.jupiter.api.Timeout(value = 6, unit = TimeUnit.MINUTES)
class AuthIT {
  private static final Pattern LINK =
      Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/\\?token=([A-Za-z0-9_\\-.]+)");

  @TempDir Path tmp;

  @Test
  void aStandaloneWithoutASecretMakesOneAndPrintsASignedInLink() throws Exception {
    Path data = tmp.resolve("data");
    try (AnchorProcess p =
        AnchorProcess.start(
            "standalone",
            data,
            AnchorProcess.freePort(),
            Map.of("ANCHOR_JWT_SECRET", "", "JWT_SECRET", ""))) {
      p.awaitHealthy(Duration.ofSeconds(150));
      String token = awaitLink(p);
      assertEquals(401, send(p, "GET", "/api/tasks", null).statusCode());
      assertEquals(200, send(p, "GET", "/api/tasks", token).statusCode());
      // the operator token may operate: an unknown node is a 404, not a 403
      HttpResponse<String> drain = send(p, "POST", "/api/nodes/nobody/drain", token);
      assertEquals(404, drain.statusCode(), drain.body());

      // ./anchor token signs with the secret the standalone generated into its data dir
      String read = anchorToken(data, "--roles", "read", "--ttl", "10m");
      assertEquals(200, send(p, "GET", "/api/queue/stats", read).statusCode());
      HttpResponse<String> submit = send(p, "POST", "/api/tasks", read);
      assertEquals(403, submit.statusCode(), submit.body());

      // the link signs a browser in: a cookie, then the event stream without any header
      HttpResponse<String> link =
          AnchorProcess.HTTP.send(
              HttpRequest.newBuilder(URI.create(p.url("/?token=" + token))).GET().build(),
              HttpResponse.BodyHandlers.ofString());
      assertEquals(303, link.statusCode());
      String cookie = link.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];
      HttpResponse<java.io.InputStream> events =
          AnchorProcess.HTTP.send(
              HttpRequest.newBuilder(URI.create(p.url("/api/events")))
                  .header("Cookie", cookie)
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(200, events.statusCode());
      assertTrue(
          events.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
      events.body().close();
    }
  }

  @Test
  void aCoordinatorWithoutASecretRefusesToStart() throws Exception {
    try (AnchorProcess p =
        AnchorProcess.start(
            "coordinator",
            tmp.resolve("data"),
            AnchorProcess.freePort(),
            Map.of("ANCHOR_JWT_SECRET", "", "JWT_SECRET", ""))) {
      assertTrue(p.waitForExit(Duration.ofSeconds(90)), "still running:\n" + p.output());
      assertEquals(2, p.process.exitValue(), p.output());
      assertTrue(
          p.output().contains("needs ANCHOR_JWT_SECRET") && p.output().contains("ANCHOR_AUTH=off"),
          p.output());
    }
  }

  @Test
  void authOffOpensTheApiAndSaysSo() throws Exception {
    try (AnchorProcess p =
        AnchorProcess.start(
            "standalone",
            tmp.resolve("data"),
            AnchorProcess.freePort(),
            Map.of("ANCHOR_AUTH", "off", "ANCHOR_JWT_SECRET", ""))) {
      p.awaitHealthy(Duration.ofSeconds(150));
      assertEquals(200, send(p, "GET", "/api/tasks", null).statusCode());
      assertTrue(p.output().contains("AUTHENTICATION IS OFF"), p.output());
      assertFalse(LINK.matcher(p.output()).find(), "no token is printed when nothing checks it");
    }
  }

  private static HttpResponse<String> send(
      AnchorProcess p, String method, String path, String token) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(p.url(path)))
            .timeout(Duration.ofSeconds(20))
            .method(
                method,
                method.equals("POST")
                    ? HttpRequest.BodyPublishers.ofString("{\"payload\":{\"sourceCode\":\"1\"}}")
                    : HttpRequest.BodyPublishers.noBody())
            .header("Content-Type", "application/json");
    if (token != null) b.header("Authorization", "Bearer " + token);
    return AnchorProcess.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The link is printed right after the API is bound; the log is read until it shows. */
  private static String awaitLink(AnchorProcess p) throws Exception {
    Matcher m;
    try {
      m =
          Poll.until(
              "a sign-in link in the log",
              Duration.ofSeconds(60),
              () -> LINK.matcher(p.output()),
              Matcher::find);
    } catch (AssertionError e) {
      throw new AssertionError("no sign-in link printed:\n" + p.output(), e);
    }
    assertEquals(p.httpPort, Integer.parseInt(m.group(1)));
    return m.group(2);
  }

  /** {@code ./anchor token ARGS} as an operator runs it, against the standalone's data dir. */
  private static String anchorToken(Path dataDir, String... args) throws Exception {
    java.util.List<String> cmd =
        new java.util.ArrayList<>(
            java.util.List.of("bash", AnchorProcess.HOME.resolve("anchor").toString(), "token"));
    cmd.addAll(java.util.List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(AnchorProcess.HOME.toFile());
    pb.environment().put("ANCHOR_SKIP_BUILD", "1");
    pb.environment().put("ANCHOR_DATA_DIR", dataDir.toString());
    pb.environment().remove("ANCHOR_JWT_SECRET");
    pb.environment().remove("JWT_SECRET");
    Process proc = pb.start();
    try {
      String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      String err = new String(proc.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(proc.waitFor(60, TimeUnit.SECONDS), "./anchor token did not end");
      assertEquals(0, proc.exitValue(), err);
      assertTrue(
          out.matches("[A-Za-z0-9_\\-]+\\.[A-Za-z0-9_\\-]+\\.[A-Za-z0-9_\\-]+"),
          "not one token: " + out + err);
      return out;
    } finally {
      proc.destroyForcibly();
    }
  }
}
