package dev.anchor.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.capture.Xvfb;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
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

import static org.junit.jupiter.api.Assertions.*;

/**
 * An app with {@code "display": true} on a real standalone: its worker starts an Xvfb for it and gives it
 * {@code DISPLAY}; the app paints its display red (xsetroot) and serves HTTP; the coordinator relays one frame of the
 * app's display and an MJPEG stream; deleting the app stops its Xvfb. Bad display settings are 400s naming the field,
 * an app without a display answers 409, an unknown one 404.
 */
@org.junit.jupiter.api.Timeout(value = 3, unit = TimeUnit.MINUTES)
class AppScreenIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  @Test
  void anAppWithADisplayIsShownAndItsXvfbStopsWithIt() throws Exception {
    assertTrue(Xvfb.installed(), "Xvfb is not installed: this test needs the Debian package xvfb");
    assertTrue(Files.isExecutable(Path.of("/usr/bin/xsetroot")), "xsetroot is missing (Debian x11-xserver-utils)");
    Long xvfbPid = null;
    try (AnchorProcess p = AnchorProcess.start("standalone", tmp.resolve("data"), AnchorProcess.freePort(),
        Map.of("ANCHOR_APPS_ALLOW_COMMANDS", "on", "ANCHOR_JS_WORKERS", "1", "ANCHOR_DISPLAY", "", "DISPLAY", ""))) {
      try {
        p.awaitHealthy(Duration.ofSeconds(150));
        assertBad(p, "{\"type\":\"Web\",\"display\":\"yes\",\"command\":\"true\"}", "display");
        assertBad(p, "{\"type\":\"Web\",\"display\":true,\"config\":{\"displaySize\":\"big\"},\"command\":\"true\"}",
            "config.displaySize");
        assertBad(p, "{\"type\":\"Web\",\"display\":true,\"config\":{\"displaySize\":\"9000x10\"},\"command\":\"true\"}",
            "config.displaySize");
        assertBad(p, "{\"type\":\"Web\",\"config\":{\"display\":true},\"command\":\"true\"}", "config.display");
        assertEquals(404, p.get("/api/clusters/no-such-app/screen").statusCode());

        int port = AnchorProcess.freePort();
        String body = JSON.writeValueAsString(Map.of("name", "painter", "type", "Web", "display", true,
            "config", Map.of("port", port, "displaySize", "640x480", "ram", "64MB", "cpu", 0.1),
            "command", "xsetroot -solid red && exec /usr/bin/python3 -m http.server $PORT --bind 127.0.0.1"));
        HttpResponse<String> created = p.post("/api/clusters", body);
        assertEquals(201, created.statusCode(), created.body());
        String id = JSON.readTree(created.body()).get("clusterId").asText();

        JsonNode app = awaitDisplay(p, id, Duration.ofSeconds(60));
        assertEquals("640x480", app.get("display").get("size").asText(), app.toString());
        int number = app.get("display").get("number").asInt();
        Path lock = Path.of("/tmp/.X" + number + "-lock");
        xvfbPid = Long.parseLong(Files.readString(lock).trim());
        assertTrue(ProcessHandle.of(xvfbPid).map(ProcessHandle::isAlive).orElse(false), "Xvfb " + xvfbPid);

        // one frame of the app's display, scaled to the requested width, red as the app painted it
        HttpResponse<byte[]> one = AnchorProcess.HTTP.send(AnchorProcess.authorized(
                URI.create(p.url("/api/clusters/" + id + "/screen?width=320&quality=80"))).GET().build(),
            HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, one.statusCode(), new String(one.body()));
        assertEquals("image/jpeg", one.headers().firstValue("content-type").orElse(""));
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(one.body()));
        assertNotNull(img, "not a decodable JPEG");
        assertEquals(320, img.getWidth());
        assertEquals(240, img.getHeight());
        ScreenIT.assertNear(0xff0000, img.getRGB(160, 120));
        ScreenIT.assertNear(0xff0000, img.getRGB(10, 10));

        // a read-only token may not see it
        HttpResponse<String> readOnly = AnchorProcess.HTTP.send(java.net.http.HttpRequest.newBuilder(
                URI.create(p.url("/api/clusters/" + id + "/screen"))).header("Authorization", "Bearer "
                + AnchorProcess.token("read")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, readOnly.statusCode(), readOnly.body());

        // the MJPEG stream through a real multipart reader
        List<Long> frames = ScreenIT.readStreamAt(p, "/api/clusters/" + id + "/screen/stream", 10, 160, 3);
        assertEquals(3, frames.size());

        // an app without a display: 409 naming why
        HttpResponse<String> plain = p.post("/api/clusters", JSON.writeValueAsString(Map.of("name", "plain",
            "type", "Web", "config", Map.of("port", AnchorProcess.freePort(), "ram", "64MB", "cpu", 0.1),
            "command", "exec sleep 600")));
        assertEquals(201, plain.statusCode(), plain.body());
        String plainId = JSON.readTree(plain.body()).get("clusterId").asText();
        JsonNode plainDisplay = JSON.readTree(p.get("/api/clusters/" + plainId).body()).path("display");
        assertTrue(plainDisplay.isNull() || plainDisplay.isMissingNode(), plainDisplay.toString());
        HttpResponse<String> none = p.get("/api/clusters/" + plainId + "/screen");
        assertEquals(409, none.statusCode(), none.body());
        assertEquals("clusterId", JSON.readTree(none.body()).get("field").asText(), none.body());
        assertTrue(JSON.readTree(none.body()).get("error").asText().contains("has no display"), none.body());
        assertEquals(200, delete(p, "/api/clusters/" + plainId).statusCode());

        // deleting the app stops its Xvfb, and its screen is gone
        HttpResponse<String> deleted = delete(p, "/api/clusters/" + id);
        assertEquals(200, deleted.statusCode(), deleted.body());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Optional<ProcessHandle> h = ProcessHandle.of(xvfbPid);
        while (h.isPresent() && h.get().isAlive() && System.nanoTime() < deadline) TimeUnit.MILLISECONDS.sleep(100);
        assertFalse(h.isPresent() && h.get().isAlive(), "the app's Xvfb (pid " + xvfbPid + ") still runs");
        assertEquals(404, p.get("/api/clusters/" + id + "/screen").statusCode());
      } catch (AssertionError | Exception e) {
        System.err.println(p.output());
        throw e;
      }
    } finally {
      // also on failure: the standalone's children (the Xvfb among them) are stopped by close(); make sure
      if (xvfbPid != null) ProcessHandle.of(xvfbPid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  private static HttpResponse<String> delete(AnchorProcess p, String path) throws Exception {
    return AnchorProcess.HTTP.send(AnchorProcess.authorized(URI.create(p.url(path))).timeout(Duration.ofSeconds(20))
        .DELETE().build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void assertBad(AnchorProcess p, String body, String field) throws Exception {
    HttpResponse<String> r = p.post("/api/clusters", body);
    assertEquals(400, r.statusCode(), body + " -> " + r.body());
    assertEquals(field, JSON.readTree(r.body()).path("field").asText(), r.body());
  }

  /** Until the app is Running with a display number (its node started the Xvfb and reported it). */
  private static JsonNode awaitDisplay(AnchorProcess p, String id, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    JsonNode last = null;
    while (System.nanoTime() < deadline) {
      last = JSON.readTree(p.get("/api/clusters/" + id).body());
      if ("Failed".equals(last.path("status").asText())) fail("the app failed: " + last);
      if ("Running".equals(last.path("status").asText()) && last.path("display").path("number").isInt()) return last;
      TimeUnit.MILLISECONDS.sleep(200);
    }
    throw new AssertionError("the app did not run with a display: " + last);
  }
}
