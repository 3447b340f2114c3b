package dev.anchor.capture;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Captures a virtual display this test starts (Xvfb, Debian package xvfb; xsetroot from
 * x11-xserver-utils).
 */
class CaptureTest {
  static Xvfb xvfb;

  @BeforeAll
  static void startDisplay() throws Exception {
    assertTrue(
        Xvfb.installed(),
        "Xvfb is not installed: these tests need the Debian package xvfb (see .ci/system-packages)");
    xvfb = Xvfb.start(1280, 720);
  }

  @AfterAll
  static void stopDisplay() {
    if (xvfb != null) xvfb.close();
  }

  @Test
  void aSolidRootSetByXsetrootIsCapturedThroughXShm() throws Exception {
    Process p =
        new ProcessBuilder("xsetroot", "-display", xvfb.display(), "-solid", "#ff0000")
            .inheritIO()
            .start();
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), "xsetroot failed");
    try (Capture c = Capture.open(xvfb.display())) {
      assertEquals(
          Capture.Method.XSHM,
          c.method(),
          "Xvfb offers MIT-SHM, so the shared-memory path is taken");
      assertEquals(1280, c.width());
      assertEquals(720, c.height());
      BufferedImage img = c.grab();
      for (int y = 0; y < 720; y += 37) {
        for (int x = 0; x < 1280; x += 41)
          assertEquals(0xff0000, img.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
      }
    }
  }

  @Test
  void aPatternDrawnThroughXlibIsCapturedExactlyByBothMethods() {
    try (Painter paint = new Painter(xvfb.display())) {
      paint.fill(0, 0, 640, 360, 0xff0000);
      paint.fill(640, 0, 640, 360, 0x00ff00);
      paint.fill(0, 360, 640, 360, 0x0000ff);
      paint.fill(640, 360, 640, 360, 0xffffff);
      paint.fill(
          100, 100, 3, 2, 0x123456); // a tiny odd-coloured block: no smoothing, no off-by-one
    }
    for (boolean shm : new boolean[] {true, false}) {
      try (Capture c = Capture.open(xvfb.display(), shm)) {
        assertEquals(shm ? Capture.Method.XSHM : Capture.Method.XGETIMAGE, c.method());
        BufferedImage img = c.grab();
        String m = c.method().name();
        assertEquals(0xff0000, img.getRGB(320, 180) & 0xffffff, m);
        assertEquals(0x00ff00, img.getRGB(960, 180) & 0xffffff, m);
        assertEquals(0x0000ff, img.getRGB(320, 540) & 0xffffff, m);
        assertEquals(0xffffff, img.getRGB(960, 540) & 0xffffff, m);
        assertEquals(0x123456, img.getRGB(100, 100) & 0xffffff, m);
        assertEquals(0x123456, img.getRGB(102, 101) & 0xffffff, m);
        assertEquals(0xff0000, img.getRGB(103, 101) & 0xffffff, m);
        assertEquals(0xff0000, img.getRGB(100, 102) & 0xffffff, m);
        assertEquals(0x00ff00, img.getRGB(640, 0) & 0xffffff, m);
        assertEquals(0xffffff, img.getRGB(1279, 719) & 0xffffff, m);
      }
    }
  }

  @Test
  void framesEncodeToTheRequestedSizeAsJpegAndPng() throws Exception {
    try (Painter paint = new Painter(xvfb.display())) {
      paint.fill(0, 0, 1280, 720, 0x2060c0);
    }
    try (Capture c = Capture.open(xvfb.display())) {
      for (boolean turbo : new boolean[] {true, false}) {
        try (Encoder enc = new Encoder(turbo)) {
          Encoder.Frame f = c.frame(enc, Encoder.Request.jpeg(640, 85));
          assertEquals("image/jpeg", f.contentType());
          assertEquals(640, f.width());
          assertEquals(360, f.height());
          BufferedImage back = ImageIO.read(new ByteArrayInputStream(f.data()));
          assertNotNull(back, enc.jpegEncoder() + " wrote an undecodable JPEG");
          assertEquals(640, back.getWidth());
          assertEquals(360, back.getHeight());
          assertClose(0x2060c0, back.getRGB(320, 180), 6, enc.jpegEncoder());

          Encoder.Frame full = c.frame(enc, Encoder.Request.jpeg(0, 50));
          BufferedImage fullBack = ImageIO.read(new ByteArrayInputStream(full.data()));
          assertEquals(1280, fullBack.getWidth());
          assertEquals(720, fullBack.getHeight());
        }
      }
      try (Encoder enc = new Encoder()) {
        Encoder.Frame png = c.frame(enc, new Encoder.Request(320, 80, Encoder.Format.PNG));
        assertEquals("image/png", png.contentType());
        BufferedImage back = ImageIO.read(new ByteArrayInputStream(png.data()));
        assertEquals(320, back.getWidth());
        assertEquals(180, back.getHeight());
        assertEquals(0x2060c0, back.getRGB(160, 90) & 0xffffff, "PNG is lossless");
      }
    }
  }

  @Test
  void probeSaysWhyADisplayCannotBeCaptured() {
    Capture.Probe none = Capture.probe(null);
    assertFalse(none.available());
    assertTrue(none.reason().contains("no display"), none.reason());

    Capture.Probe absent = Capture.probe(":987");
    assertFalse(absent.available());
    assertTrue(absent.reason().contains("cannot open display :987"), absent.reason());

    Capture.Probe ok = Capture.probe(xvfb.display());
    assertTrue(ok.available(), ok.reason());
    assertEquals(1280, ok.width());
    assertEquals(Capture.Method.XSHM, ok.method());
  }

  @Test
  void aDisplayThatDiesIsAnErrorNotTheEndOfTheJvm() throws Exception {
    Xvfb own = Xvfb.start(320, 200);
    try (Capture c = Capture.open(own.display())) {
      c.grab();
      own.close();
      CaptureException e =
          assertThrows(
              CaptureException.class,
              () -> {
                for (int i = 0; i < 3; i++) c.grab();
              });
      assertTrue(e.getMessage().contains(own.display()), e.getMessage());
      assertFalse(Capture.probe(own.display()).available());
    } finally {
      own.close();
    }
  }

  @Test
  void requestsAreChecked() {
    assertThrows(IllegalArgumentException.class, () -> Encoder.Request.jpeg(640, 0));
    assertThrows(IllegalArgumentException.class, () -> Encoder.Request.jpeg(-1, 80));
    assertThrows(IllegalArgumentException.class, () -> Encoder.Format.parse("gif"));
    assertEquals(Encoder.Format.PNG, Encoder.Format.parse("PNG"));
    assertArrayEquals(new int[] {1280, 720}, Encoder.targetSize(1280, 720, 4000));
    assertArrayEquals(new int[] {333, 187}, Encoder.targetSize(1280, 720, 333));
  }

  private static void assertClose(int want, int got, int tolerance, String what) {
    for (int shift = 0; shift <= 16; shift += 8) {
      int a = (want >> shift) & 0xff, b = (got >> shift) & 0xff;
      assertTrue(
          Math.abs(a - b) <= tolerance,
          what
              + ": expected ~#"
              + Integer.toHexString(want)
              + ", got #"
              + Integer.toHexString(got & 0xffffff));
    }
  }
}
