package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.anchor.capture.Painter;
import dev.anchor.capture.Xvfb;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import javax.imageio.ImageIO;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.scaladsl.model.HttpEntity;
import org.apache.pekko.http.scaladsl.model.Multipart;
import org.apache.pekko.http.scaladsl.settings.ParserSettings;
import org.apache.pekko.http.scaladsl.unmarshalling.MultipartUnmarshallers$;
import org.apache.pekko.stream.Materializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.FutureConverters;

/**
 * A node's screen through the API of a real standalone: the node captures an Xvfb display this test
 * starts and paints, the coordinator relays one frame and an MJPEG stream (read by Pekko HTTP's
 * multipart parser), a viewer that stops reading does not hold up the node, and a node without a
 * display says so.
 */
@org.junit.jupiter.api.Timeout(value = 5, unit = TimeUnit.MINUTES)
class ScreenIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  @Test
  void aNodeWithADisplayServesFramesAndAnMjpegStream() throws Exception {
    assertTrue(
        Xvfb.installed(),
        "Xvfb is not installed: this test needs the Debian package xvfb (see .ci/system-packages)");
    try (Xvfb xvfb = Xvfb.start(1280, 720)) {
      try (Painter paint = new Painter(xvfb.display())) {
        paint.fill(0, 0, 1280, 720, 0xff0000);
        paint.fill(640, 0, 640, 720, 0x0000ff);
      }
      try (AnchorProcess p =
          AnchorProcess.start(
              "standalone",
              tmp.resolve("data"),
              AnchorProcess.freePort(),
              Map.of("ANCHOR_DISPLAY", xvfb.display(), "ANCHOR_JS_WORKERS", "1"))) {
        p.awaitHealthy(Duration.ofSeconds(150));
        JsonNode node = awaitNode(p);
        String id = node.get("nodeId").asText();
        assertTrue(node.get("specs").get("capture").asBoolean(), node.toString());
        assertFalse(node.get("specs").has("captureReason"), node.toString());
        assertFalse(
            node.get("specs").has("gpuMemoryMb"),
            "no GPU: GPU figures are absent, not zeros: " + node);
        assertFalse(node.get("metrics").has("gpuUtilization"), node.toString());

        // one frame, scaled to the requested width
        HttpResponse<byte[]> one =
            AnchorProcess.HTTP.send(
                AnchorProcess.authorized(
                        URI.create(p.url("/api/nodes/" + id + "/screen?width=640&quality=80")))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, one.statusCode(), new String(one.body()));
        assertEquals("image/jpeg", one.headers().firstValue("content-type").orElse(""));
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(one.body()));
        assertNotNull(img, "not a decodable JPEG");
        assertEquals(640, img.getWidth());
        assertEquals(360, img.getHeight());
        assertNear(0xff0000, img.getRGB(160, 180));
        assertNear(0x0000ff, img.getRGB(480, 180));

        HttpResponse<byte[]> png =
            AnchorProcess.HTTP.send(
                AnchorProcess.authorized(
                        URI.create(p.url("/api/nodes/" + id + "/screen?width=320&format=png")))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals("image/png", png.headers().firstValue("content-type").orElse(""));
        BufferedImage pngImg = ImageIO.read(new ByteArrayInputStream(png.body()));
        assertEquals(320, pngImg.getWidth());
        assertEquals(0xff0000, pngImg.getRGB(80, 90) & 0xffffff);

        // a read-only token may not see the screen
        HttpResponse<String> readOnly =
            AnchorProcess.HTTP.send(
                java.net.http.HttpRequest.newBuilder(
                        URI.create(p.url("/api/nodes/" + id + "/screen")))
                    .header("Authorization", "Bearer " + AnchorProcess.token("read"))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(403, readOnly.statusCode(), readOnly.body());

        // a viewer that stops reading: the node keeps serving others and running jobs
        HttpResponse<InputStream> stalled =
            AnchorProcess.HTTP.send(
                AnchorProcess.authorized(
                        URI.create(p.url("/api/nodes/" + id + "/screen/stream?fps=30")))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, stalled.statusCode());
        try {
          List<Long> arrivals = readStream(p, id, 10, 640, 16);
          assertEquals(16, arrivals.size());
          // paced by the node: 10 frames at fps=10 are grabbed about 1,000 ms apart (X-Captured-At;
          // the arrivals can
          // bunch up in socket buffers while the client starts reading); bounds for a loaded
          // machine
          long span = arrivals.get(15) - arrivals.get(5);
          assertTrue(
              span >= 700 && span <= 6000,
              "10 frames at fps=10 were grabbed within " + span + " ms");
          HttpResponse<String> task =
              p.post("/api/tasks", "{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"6*7\"}}");
          assertEquals(201, task.statusCode(), task.body());
          String taskId = JSON.readTree(task.body()).get("taskId").asText();
          awaitCompleted(p, taskId);
        } finally {
          stalled.body().close();
        }
      }
    }
  }

  @Test
  void aNodeWithoutADisplayReportsCaptureFalseAndAnswers409() throws Exception {
    try (AnchorProcess p =
        AnchorProcess.start(
            "standalone",
            tmp.resolve("data2"),
            AnchorProcess.freePort(),
            Map.of("ANCHOR_DISPLAY", "", "DISPLAY", "", "ANCHOR_JS_WORKERS", "1"))) {
      p.awaitHealthy(Duration.ofSeconds(150));
      JsonNode node = awaitNode(p);
      String id = node.get("nodeId").asText();
      assertFalse(node.get("specs").get("capture").asBoolean(), node.toString());
      assertTrue(
          node.get("specs").get("captureReason").asText().contains("no display"), node.toString());
      HttpResponse<String> view = p.get("/api/nodes/" + id);
      assertTrue(
          JSON.readTree(view.body())
              .get("specs")
              .get("captureReason")
              .asText()
              .contains("no display"),
          view.body());
      HttpResponse<String> screen = p.get("/api/nodes/" + id + "/screen");
      assertEquals(409, screen.statusCode(), screen.body());
      assertTrue(
          JSON.readTree(screen.body()).get("error").asText().contains("has no screen capture"),
          screen.body());
      assertEquals(409, p.get("/api/nodes/" + id + "/screen/stream").statusCode());
      assertEquals(404, p.get("/api/nodes/nobody/screen").statusCode());
      // everything else works as before
      HttpResponse<String> task =
          p.post("/api/tasks", "{\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"1+1\"}}");
      assertEquals(201, task.statusCode(), task.body());
      awaitCompleted(p, JSON.readTree(task.body()).get("taskId").asText());
    }
  }

  /**
   * Reads {@code frames} parts of the node's MJPEG stream with Pekko HTTP's client and multipart
   * parser, decodes each and checks its width; answers their capture times ({@code X-Captured-At},
   * ms).
   */
  static List<Long> readStream(AnchorProcess p, String id, int fps, int width, int frames)
      throws Exception {
    return readStreamAt(p, "/api/nodes/" + id + "/screen/stream", fps, width, frames);
  }

  /** The same for the stream at {@code path} (a node's or an app's). */
  static List<Long> readStreamAt(AnchorProcess p, String path, int fps, int width, int frames)
      throws Exception {
    ActorSystem<Void> client =
        ActorSystem.create(
            Behaviors.empty(),
            "screen-it-client",
            com.typesafe.config.ConfigFactory.parseString(
                "pekko.actor.provider = local\npekko.loglevel = WARNING"));
    try {
      Materializer mat = Materializer.matFromSystem(client);
      var response =
          Http.get(client)
              .singleRequest(
                  HttpRequest.GET(p.url(path + "?fps=" + fps + "&width=" + width + "&quality=70"))
                      .addHeader(
                          RawHeader.create("Authorization", "Bearer " + AnchorProcess.TOKEN)))
              .toCompletableFuture()
              .get(30, TimeUnit.SECONDS);
      assertEquals(200, response.status().intValue());
      assertTrue(
          response.entity().getContentType().toString().startsWith("multipart/x-mixed-replace"),
          response.entity().getContentType().toString());
      var um =
          MultipartUnmarshallers$.MODULE$.defaultMultipartGeneralUnmarshaller(
              MultipartUnmarshallers$.MODULE$.defaultMultipartGeneralUnmarshaller$default$1(),
              (ParserSettings)
                  ParserSettings.apply(
                      org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(client)));
      Multipart.General multipart =
          FutureConverters.asJava(
                  um.apply((HttpEntity) response.entity(), client.executionContext(), mat))
              .toCompletableFuture()
              .get(10, TimeUnit.SECONDS);
      List<Long> arrivals = new ArrayList<>();
      multipart
          .getParts()
          .take(frames)
          .mapAsync(
              1,
              part ->
                  part.getEntity()
                      .toStrict(10_000, mat)
                      .thenApply(
                          strict -> {
                            arrivals.add(
                                Long.parseLong(
                                    StreamSupport.stream(part.getHeaders().spliterator(), false)
                                        .filter(h -> h.name().equalsIgnoreCase("X-Captured-At"))
                                        .findFirst()
                                        .orElseThrow()
                                        .value()));
                            assertEquals("image/jpeg", strict.getContentType().toString());
                            try {
                              BufferedImage img =
                                  ImageIO.read(
                                      new ByteArrayInputStream(strict.getData().toArray()));
                              assertNotNull(img, "a part is not a decodable JPEG");
                              assertEquals(width, img.getWidth());
                            } catch (java.io.IOException e) {
                              throw new AssertionError(e);
                            }
                            return strict;
                          }))
          .runWith(org.apache.pekko.stream.javadsl.Sink.ignore(), mat)
          .toCompletableFuture()
          .get(60, TimeUnit.SECONDS);
      return arrivals;
    } finally {
      client.terminate();
      client.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
  }

  static JsonNode awaitNode(AnchorProcess p) throws Exception {
    try {
      return Poll.until(
              "a node registered with the capture capability",
              Duration.ofSeconds(60),
              () -> p.api().nodes(),
              nodes -> !nodes.isEmpty() && nodes.get(0).get("specs").has("capture"))
          .get(0);
    } catch (AssertionError e) {
      throw new AssertionError("no node registered:\n" + p.output(), e);
    }
  }

  private static void awaitCompleted(AnchorProcess p, String taskId) throws Exception {
    p.api()
        .awaitTask(
            taskId, Duration.ofSeconds(60), t -> "Completed".equals(t.path("status").asText()));
  }

  static void assertNear(int want, int got) {
    for (int shift = 0; shift <= 16; shift += 8) {
      int a = (want >> shift) & 0xff, b = (got >> shift) & 0xff;
      assertTrue(
          Math.abs(a - b) <= 24,
          "expected ~#"
              + Integer.toHexString(want)
              + ", got #"
              + Integer.toHexString(got & 0xffffff));
    }
  }
}
