package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.capture.Xvfb;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An app with {@code "display": true} on a real standalone: its worker starts an Xvfb for it and
 * gives it {@code DISPLAY}; the app paints its display red (xsetroot) and serves HTTP; the
 * coordinator relays one frame of the app's display and an MJPEG stream; deleting the app stops its
 * Xvfb. Bad display settings are 400s naming the field, an app without a display answers 409, an
 * unknown one 404.
 */
@org.junit.jupiter.api.Timeout(value = 3, unit = TimeUnit.MINUTES)
class AppScreenIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  private final long t0 = System.nanoTime();

  /**
   * Progress with the time since the test began, in the test's output
   * (failsafe-reports/…-output.txt).
   */
  private void step(String what) {
    System.err.printf("AppScreenIT %6d ms: %s%n", (System.nanoTime() - t0) / 1_000_000, what);
  }

  @Test
  void anAppWithADisplayIsShownAndItsXvfbStopsWithIt() throws Exception {
    assertTrue(Xvfb.installed(), "Xvfb is not installed: this test needs the Debian package xvfb");
    assertTrue(
        Files.isExecutable(Path.of("/usr/bin/xsetroot")),
        "xsetroot is missing (Debian x11-xserver-utils)");
    Long xvfbPid = null;
    try (AnchorProcess p =
        AnchorProcess.start(
            "standalone",
            tmp.resolve("data"),
            AnchorProcess.freePort(),
            Map.of(
                "ANCHOR_APPS_ALLOW_COMMANDS",
                "on",
                "ANCHOR_JS_WORKERS",
                "1",
                "ANCHOR_DISPLAY",
                "",
                "DISPLAY",
                ""))) {
      try {
        p.awaitHealthy(Duration.ofSeconds(150));
        step("standalone healthy");
        int port = AnchorProcess.freePort();
        String body =
            JSON.writeValueAsString(
                Map.of(
                    "name",
                    "painter",
                    "type",
                    "Web",
                    "display",
                    true,
                    "config",
                    Map.of("port", port, "displaySize", "640x480", "ram", "64MB", "cpu", 0.1),
                    "command",
                    "xsetroot -solid red && exec /usr/bin/python3 -m http.server $PORT --bind 127.0.0.1"));
        HttpResponse<String> created = p.post("/api/clusters", body);
        assertEquals(201, created.statusCode(), created.body());
        String id = JSON.readTree(created.body()).get("clusterId").asText();

        step("app created");
        // while its node starts it: bad display settings are 400s naming the field, unknown apps
        // 404s
        assertBad(p, "{\"type\":\"Web\",\"display\":\"yes\",\"command\":\"true\"}", "display");
        assertBad(
            p,
            "{\"type\":\"Web\",\"display\":true,\"config\":{\"displaySize\":\"big\"},\"command\":\"true\"}",
            "config.displaySize");
        assertBad(
            p,
            "{\"type\":\"Web\",\"display\":true,\"config\":{\"displaySize\":\"9000x10\"},\"command\":\"true\"}",
            "config.displaySize");
        assertBad(
            p,
            "{\"type\":\"Web\",\"config\":{\"display\":true},\"command\":\"true\"}",
            "config.display");
        assertEquals(404, p.get("/api/clusters/no-such-app/screen").statusCode());

        JsonNode app = awaitDisplay(p, id, Duration.ofSeconds(60));
        step("app running on display " + app.get("display"));
        assertEquals("640x480", app.get("display").get("size").asText(), app.toString());
        int number = app.get("display").get("number").asInt();
        assertTrue(number >= 0, app.toString());
        // the app's Xvfb: the standalone's descendant started with the app's display size
        xvfbPid =
            p.process
                .toHandle()
                .descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("Xvfb")).orElse(false))
                .filter(
                    h ->
                        h.info()
                            .arguments()
                            .map(a -> List.of(a).contains("640x480x24"))
                            .orElse(false))
                .map(ProcessHandle::pid)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no Xvfb 640x480 under the standalone"));
        assertTrue(
            ProcessHandle.of(xvfbPid).map(ProcessHandle::isAlive).orElse(false), "Xvfb " + xvfbPid);

        // one frame of the app's display, scaled to the requested width, red as the app painted it
        HttpResponse<byte[]> one =
            AnchorProcess.HTTP.send(
                AnchorProcess.authorized(
                        URI.create(p.url("/api/clusters/" + id + "/screen?width=320&quality=80")))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, one.statusCode(), new String(one.body()));
        assertEquals("image/jpeg", one.headers().firstValue("content-type").orElse(""));
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(one.body()));
        assertNotNull(img, "not a decodable JPEG");
        assertEquals(320, img.getWidth());
        assertEquals(240, img.getHeight());
        ScreenIT.assertNear(0xff0000, img.getRGB(160, 120));
        ScreenIT.assertNear(0xff0000, img.getRGB(10, 10));

        step("one frame checked");
        // a read-only token may not see it
        HttpResponse<String> readOnly =
            AnchorProcess.HTTP.send(
                java.net.http.HttpRequest.newBuilder(
                        URI.create(p.url("/api/clusters/" + id + "/screen")))
                    .header("Authorization", "Bearer " + AnchorProcess.token("read"))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(403, readOnly.statusCode(), readOnly.body());

        // the MJPEG stream: parts of decodable JPEGs of the requested width (ScreenIT reads a
        // node's stream with Pekko
        // HTTP's multipart parser; here a plain reader keeps the test short)
        HttpResponse<java.io.InputStream> stream =
            AnchorProcess.HTTP.send(
                AnchorProcess.authorized(
                        URI.create(
                            p.url("/api/clusters/" + id + "/screen/stream?fps=10&width=160")))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, stream.statusCode());
        assertTrue(
            stream
                .headers()
                .firstValue("content-type")
                .orElse("")
                .startsWith("multipart/x-mixed-replace"));
        try (java.io.InputStream in = stream.body()) {
          for (int part = 0; part < 2; part++) {
            BufferedImage frame = ImageIO.read(new ByteArrayInputStream(readPart(in)));
            assertNotNull(frame, "part " + part + " is not a decodable JPEG");
            assertEquals(160, frame.getWidth());
            ScreenIT.assertNear(0xff0000, frame.getRGB(80, 60));
          }
        }
        step("stream read");

        // an app without a display: 409 naming why
        HttpResponse<String> plain =
            p.post(
                "/api/clusters",
                JSON.writeValueAsString(
                    Map.of(
                        "name",
                        "plain",
                        "type",
                        "Web",
                        "config",
                        Map.of("port", AnchorProcess.freePort(), "ram", "64MB", "cpu", 0.1),
                        "command",
                        "exec sleep 600")));
        assertEquals(201, plain.statusCode(), plain.body());
        String plainId = JSON.readTree(plain.body()).get("clusterId").asText();
        JsonNode plainDisplay =
            JSON.readTree(p.get("/api/clusters/" + plainId).body()).path("display");
        assertTrue(plainDisplay.isNull() || plainDisplay.isMissingNode(), plainDisplay.toString());
        HttpResponse<String> none = p.get("/api/clusters/" + plainId + "/screen");
        assertEquals(409, none.statusCode(), none.body());
        assertEquals("clusterId", JSON.readTree(none.body()).get("field").asText(), none.body());
        assertTrue(
            JSON.readTree(none.body()).get("error").asText().contains("has no display"),
            none.body());
        assertEquals(200, delete(p, "/api/clusters/" + plainId).statusCode());

        step("app without a display checked");
        // deleting the app stops its Xvfb, and its screen is gone
        HttpResponse<String> deleted = delete(p, "/api/clusters/" + id);
        assertEquals(200, deleted.statusCode(), deleted.body());
        Optional<ProcessHandle> h = ProcessHandle.of(xvfbPid);
        Poll.until(
            "the app's Xvfb (pid " + xvfbPid + ") gone",
            Duration.ofSeconds(20),
            () -> !(h.isPresent() && h.get().isAlive()));
        assertFalse(
            h.isPresent() && h.get().isAlive(), "the app's Xvfb (pid " + xvfbPid + ") still runs");
        step("Xvfb " + xvfbPid + " gone");
        assertEquals(404, p.get("/api/clusters/" + id + "/screen").statusCode());
      } catch (AssertionError | Exception e) {
        System.err.println(p.output());
        throw e;
      }
    } finally {
      // also on failure: the standalone's children (the Xvfb among them) are stopped by close();
      // make sure
      if (xvfbPid != null) ProcessHandle.of(xvfbPid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  /**
   * One part of a multipart/x-mixed-replace body: its headers up to the blank line, then
   * Content-Length bytes.
   */
  private static byte[] readPart(java.io.InputStream in) throws java.io.IOException {
    int length = -1;
    String line;
    while (!(line = readLine(in)).isEmpty() || length < 0) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    byte[] data = in.readNBytes(length);
    assertEquals(length, data.length, "the stream ended inside a part");
    return data;
  }

  private static String readLine(java.io.InputStream in) throws java.io.IOException {
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) != '\n') {
      if (c < 0) throw new java.io.EOFException("the stream ended");
      if (c != '\r') b.append((char) c);
    }
    return b.toString();
  }

  private static HttpResponse<String> delete(AnchorProcess p, String path) throws Exception {
    return AnchorProcess.HTTP.send(
        AnchorProcess.authorized(URI.create(p.url(path)))
            .timeout(Duration.ofSeconds(20))
            .DELETE()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static void assertBad(AnchorProcess p, String body, String field) throws Exception {
    HttpResponse<String> r = p.post("/api/clusters", body);
    assertEquals(400, r.statusCode(), body + " -> " + r.body());
    assertEquals(field, JSON.readTree(r.body()).path("field").asText(), r.body());
  }

  /** Until the app is Running with a display number (its node started the Xvfb and reported it). */
  private static JsonNode awaitDisplay(AnchorProcess p, String id, Duration timeout)
      throws Exception {
    return Poll.until(
        "app " + id + " Running with a display",
        timeout,
        () -> {
          JsonNode app = ApiClient.json(p.get("/api/clusters/" + id));
          if ("Failed".equals(app.path("status").asText())) fail("the app failed: " + app);
          return app;
        },
        app ->
            "Running".equals(app.path("status").asText())
                && app.path("display").path("number").isInt());
  }
}
