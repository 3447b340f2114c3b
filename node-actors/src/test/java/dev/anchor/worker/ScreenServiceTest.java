package dev.anchor.worker;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.ConfigFactory;
import dev.anchor.capture.Xvfb;
import dev.anchor.screen.ScreenProtocol;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import javax.imageio.ImageIO;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The worker's screen actor: frames on request, and a stream that never runs ahead of its viewer.
 */
class ScreenServiceTest {
  static ActorTestKit kit;
  static Xvfb xvfb;

  @BeforeAll
  static void start() throws Exception {
    assertTrue(
        Xvfb.installed(),
        "Xvfb is not installed: this test needs the Debian package xvfb (see .ci/system-packages)");
    xvfb = Xvfb.start(640, 480);
    kit =
        ActorTestKit.create(
            "ScreenServiceTest",
            ConfigFactory.parseString("pekko.actor.provider = local")
                .withFallback(ConfigFactory.load()));
  }

  @AfterAll
  static void stop() {
    if (kit != null) kit.shutdownTestKit();
    if (xvfb != null) xvfb.close();
  }

  @Test
  void aStreamSendsNoMoreThanTheWindowUntilTheViewerAcknowledges() throws Exception {
    try (ScreenService screen =
        ScreenService.start("n1", new ScreenService.Settings(true, xvfb.display(), false, 0, 0))) {
      assertTrue(screen.status().available(), screen.status().reason());
      ActorRef<ScreenProtocol.Command> svc = kit.spawn(screen.behavior());

      TestProbe<StatusReply<ScreenProtocol.ScreenFrame>> one = kit.createTestProbe();
      svc.tell(new ScreenProtocol.Grab(320, 80, "jpeg", one.getRef()));
      ScreenProtocol.ScreenFrame f = one.receiveMessage(Duration.ofSeconds(10)).getValue();
      BufferedImage img = ImageIO.read(new ByteArrayInputStream(f.data()));
      assertEquals(320, img.getWidth());
      assertEquals(240, img.getHeight());

      TestProbe<ScreenProtocol.StreamEvent> viewer = kit.createTestProbe();
      svc.tell(new ScreenProtocol.StartStream("s1", 30, 160, 50, viewer.getRef()));
      for (int i = 0; i < ScreenProtocol.WINDOW; i++) {
        var frame =
            viewer.expectMessageClass(ScreenProtocol.ScreenFrame.class, Duration.ofSeconds(10));
        assertEquals(i, frame.seq());
        assertEquals(160, frame.width());
      }
      // at 30 fps, 15 ticks pass: all dropped at the source while the window is full
      viewer.expectNoMessage(Duration.ofMillis(500));
      svc.tell(new ScreenProtocol.FrameAck("s1"));
      var next =
          viewer.expectMessageClass(ScreenProtocol.ScreenFrame.class, Duration.ofSeconds(10));
      assertEquals(ScreenProtocol.WINDOW, next.seq());
      viewer.expectNoMessage(Duration.ofMillis(300));

      svc.tell(new ScreenProtocol.StopStream("s1"));
      svc.tell(new ScreenProtocol.FrameAck("s1"));
      svc.tell(new ScreenProtocol.FrameAck("s1"));
      viewer.expectNoMessage(Duration.ofMillis(500));
    }
  }

  @Test
  void anAppsDisplayIsFoundUnderTheAppsKeyAndCloseEndsItsStreamsAndLeavesTheReceptionist()
      throws Exception {
    var key = ScreenProtocol.appKey("app-1");
    ScreenService screen =
        ScreenService.forApp("app-1", xvfb.display()).spawn(kit.system(), "app-screen-test");
    try {
      assertTrue(screen.status().available(), screen.status().reason());
      TestProbe<org.apache.pekko.actor.typed.receptionist.Receptionist.Listing> listings =
          kit.createTestProbe();
      ActorRef<ScreenProtocol.Command> svc = null;
      for (int i = 0; i < 50 && svc == null; i++) {
        kit.system()
            .receptionist()
            .tell(
                org.apache.pekko.actor.typed.receptionist.Receptionist.find(
                    key, listings.getRef()));
        svc =
            listings.receiveMessage(Duration.ofSeconds(5)).getServiceInstances(key).stream()
                .findFirst()
                .orElse(null);
        if (svc == null) Thread.sleep(100);
      }
      assertNotNull(svc, "not registered under the app's key");
      TestProbe<StatusReply<ScreenProtocol.ScreenFrame>> one = kit.createTestProbe();
      svc.tell(new ScreenProtocol.Grab(160, 80, "png", one.getRef()));
      assertEquals(
          "image/png", one.receiveMessage(Duration.ofSeconds(10)).getValue().contentType());

      TestProbe<ScreenProtocol.StreamEvent> viewer = kit.createTestProbe();
      svc.tell(new ScreenProtocol.StartStream("s2", 10, 160, 50, viewer.getRef()));
      viewer.expectMessageClass(ScreenProtocol.ScreenFrame.class, Duration.ofSeconds(10));
      screen.close();
      ScreenProtocol.StreamEnded ended =
          viewer
              .fishForMessage(
                  Duration.ofSeconds(10),
                  m ->
                      m instanceof ScreenProtocol.StreamEnded
                          ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
                          : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes
                              .continueAndIgnore())
              .stream()
              .filter(ScreenProtocol.StreamEnded.class::isInstance)
              .map(ScreenProtocol.StreamEnded.class::cast)
              .findFirst()
              .orElseThrow();
      assertTrue(ended.reason().contains("app app-1"), ended.reason());
      boolean gone = false;
      for (int i = 0; i < 50 && !gone; i++) {
        kit.system()
            .receptionist()
            .tell(
                org.apache.pekko.actor.typed.receptionist.Receptionist.find(
                    key, listings.getRef()));
        gone = listings.receiveMessage(Duration.ofSeconds(5)).getServiceInstances(key).isEmpty();
        if (!gone) Thread.sleep(100);
      }
      assertTrue(gone, "still registered after close");
    } finally {
      screen.close();
    }
  }

  @Test
  void aNodeWithoutADisplaySaysWhy() {
    try (ScreenService screen =
        ScreenService.start("n2", new ScreenService.Settings(true, "", false, 0, 0))) {
      assertFalse(screen.status().available());
      assertTrue(screen.status().reason().startsWith("no display"), screen.status().reason());
      ActorRef<ScreenProtocol.Command> svc = kit.spawn(screen.behavior());
      TestProbe<StatusReply<ScreenProtocol.ScreenFrame>> one = kit.createTestProbe();
      svc.tell(new ScreenProtocol.Grab(0, 80, "jpeg", one.getRef()));
      StatusReply<ScreenProtocol.ScreenFrame> reply = one.receiveMessage(Duration.ofSeconds(5));
      assertTrue(reply.isError());
      assertTrue(
          reply.getError().getMessage().contains("has no screen capture: no display"),
          reply.getError().getMessage());
      TestProbe<ScreenProtocol.StreamEvent> viewer = kit.createTestProbe();
      svc.tell(new ScreenProtocol.StartStream("s2", 10, 0, 70, viewer.getRef()));
      var ended =
          viewer.expectMessageClass(ScreenProtocol.StreamEnded.class, Duration.ofSeconds(5));
      assertTrue(ended.reason().contains("no display"), ended.reason());
    }
    try (ScreenService off =
        ScreenService.start("n3", new ScreenService.Settings(false, xvfb.display(), false, 0, 0))) {
      assertFalse(off.status().available());
      assertTrue(off.status().reason().contains("turned off"), off.status().reason());
    }
  }

  @Test
  void aNodeCanStartItsOwnVirtualDisplay() {
    try (ScreenService screen =
        ScreenService.start("n4", new ScreenService.Settings(true, null, true, 320, 200))) {
      assertTrue(screen.status().available(), screen.status().reason());
      assertNotNull(screen.status().display());
    }
  }
}
