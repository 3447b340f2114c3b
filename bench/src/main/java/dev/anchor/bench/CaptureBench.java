package dev.anchor.bench;

import dev.anchor.capture.Capture;
import dev.anchor.capture.Encoder;
import dev.anchor.capture.Painter;
import dev.anchor.capture.Xvfb;
import dev.anchor.it.AnchorCluster;
import dev.anchor.it.AnchorProcess;
import java.awt.Color;
import java.awt.Font;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Screen capture on a 1280×720 Xvfb display this bench starts and paints with a desktop-like test
 * image:
 *
 * <ul>
 *   <li>{@code capture-encode}: grab + JPEG encode in one thread (one core), per method (XShm,
 *       XGetImage) and JPEG encoder (TurboJPEG, ImageIO), with the thread's CPU time per frame;
 *   <li>{@code relay}: a coordinator and a worker (two JVMs, embedded MongoDB-wire server and Redis
 *       in this one); the worker captures the display and the coordinator relays its MJPEG stream
 *       over the cluster (Artery, TCP loopback): frames per second reaching the viewer and latency
 *       from grab (the part's X-Captured-At) to the viewer having the whole frame; and single-frame
 *       GET /screen round trips.
 * </ul>
 *
 * <li>{@code ffmpeg}: for comparison, when ffmpeg is installed, {@code ffmpeg -f x11grab} of the
 *     same display to MJPEG ({@code -q:v 3}, one thread) as fast as it goes, with its CPU time
 *     (bash's {@code time}); not part of Anchor's capture, which never shells out. Usage: {@code
 *     ./anchor bench capture [seconds=10] [fps=30] [quality=80] [width=1280]
 *     [only=encode,ffmpeg,relay]}
 */
public final class CaptureBench {
  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>();
    for (String a : args) {
      String[] kv = a.split("=", 2);
      if (kv.length == 2) opt.put(kv[0], kv[1]);
    }
    int seconds = Integer.parseInt(opt.getOrDefault("seconds", "10"));
    int fps = Integer.parseInt(opt.getOrDefault("fps", "30"));
    int quality = Integer.parseInt(opt.getOrDefault("quality", "80"));
    int width = Integer.parseInt(opt.getOrDefault("width", "1280"));
    String only = opt.getOrDefault("only", "encode,ffmpeg,relay");
    try (Xvfb xvfb = Xvfb.start(1280, 720)) {
      try (Painter p = new Painter(xvfb.display())) {
        p.put(desktop(1280, 720), 0, 0);
      }
      System.out.println(
          "display "
              + xvfb.display()
              + " (Xvfb pid "
              + xvfb.pid()
              + "), JPEG encoder available: "
              + Encoder.jpegEncoderName()
              + ", load "
              + loadavg());
      if (only.contains("encode")) {
        encode(xvfb.display(), true, true, seconds, quality, 1280);
        encode(xvfb.display(), true, false, seconds, quality, 1280);
        encode(xvfb.display(), false, true, seconds, quality, 1280);
        encode(xvfb.display(), true, true, seconds, quality, 640);
      }
      if (only.contains("ffmpeg")) ffmpeg(xvfb.display(), seconds);
      if (only.contains("relay")) relay(xvfb.display(), seconds, fps, quality, width);
    }
  }

  static String loadavg() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "?";
    }
  }

  /** Gradients, windows, text and a noisy "photo": roughly what a desktop costs to encode. */
  static BufferedImage desktop(int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(
        RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setPaint(new GradientPaint(0, 0, new Color(30, 60, 120), w, h, new Color(200, 120, 40)));
    g.fillRect(0, 0, w, h);
    Random r = new Random(7);
    for (int i = 0; i < 6; i++) {
      int x = r.nextInt(w - 400), y = r.nextInt(h - 300);
      g.setColor(new Color(235, 235, 235));
      g.fillRect(x, y, 400, 300);
      g.setColor(new Color(60, 90, 160));
      g.fillRect(x, y, 400, 24);
      g.setColor(Color.DARK_GRAY);
      g.setFont(new Font(Font.MONOSPACED, Font.PLAIN, 12));
      for (int l = 0; l < 18; l++)
        g.drawString(
            "line " + l + ": the quick brown fox jumps over the lazy dog 0123456789",
            x + 6,
            y + 40 + l * 14);
    }
    for (int y = 420; y < 700; y++) {
      for (int x = 880; x < 1260; x++) {
        int v = (int) (128 + 60 * Math.sin(x / 9.0) * Math.cos(y / 13.0)) + r.nextInt(40) - 20;
        v = Math.max(0, Math.min(255, v));
        img.setRGB(x, y, (v << 16) | ((255 - v) << 8) | (v / 2));
      }
    }
    g.dispose();
    return img;
  }

  static void encode(
      String display, boolean shm, boolean turbo, int seconds, int quality, int width) {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    try (Capture c = Capture.open(display, shm);
        Encoder enc = new Encoder(turbo)) {
      Encoder.Request req = Encoder.Request.jpeg(width, quality);
      int[] px = new int[c.width() * c.height()];
      for (int i = 0; i < 20; i++) c.frame(enc, req); // warm-up (JIT, encoder tables)
      // the grab alone
      int grabs = 0;
      long g0 = System.nanoTime(), gEnd = g0 + TimeUnit.SECONDS.toNanos(Math.max(1, seconds / 5));
      while (System.nanoTime() < gEnd) {
        c.grabInto(px);
        grabs++;
      }
      double grabMs = (System.nanoTime() - g0) / 1e6 / grabs;
      // grab + scale + encode, back to back in this one thread
      long bytes = 0;
      int frames = 0;
      long cpu0 = threads.getCurrentThreadCpuTime();
      long t0 = System.nanoTime(), end = t0 + TimeUnit.SECONDS.toNanos(seconds);
      while (System.nanoTime() < end) {
        bytes += c.frame(enc, req).data().length;
        frames++;
      }
      long wall = System.nanoTime() - t0;
      long cpu = threads.getCurrentThreadCpuTime() - cpu0;
      double perFrameWallMs = wall / 1e6 / frames;
      double perFrameCpuMs = cpu / 1e6 / frames;
      System.out.printf(
          "RESULT scenario=capture-encode method=%s encoder=%s size=%dx%d quality=%d frames=%d "
              + "fps=%.1f grab_ms=%.2f frame_ms=%.2f cpu_ms_per_frame=%.2f fps_per_core=%.1f kb_per_frame=%.0f load=%s%n",
          c.method(),
          enc.jpegEncoder(),
          Encoder.targetSize(c.width(), c.height(), width)[0],
          Encoder.targetSize(c.width(), c.height(), width)[1],
          quality,
          frames,
          1000 / perFrameWallMs,
          grabMs,
          perFrameWallMs,
          perFrameCpuMs,
          1000 / perFrameCpuMs,
          bytes / 1024.0 / frames,
          loadavg().split(" ")[0]);
    }
  }

  static void ffmpeg(String display, int seconds) throws Exception {
    if (!onPath("ffmpeg")) {
      System.out.println("(ffmpeg not installed: no comparison)");
      return;
    }
    for (String rate : new String[] {"30", "1000"}) {
      // -t counts output time, which a framerate ffmpeg cannot reach never ends in 10 s: stop it by
      // the clock
      // (SIGINT: it finishes the file and prints its statistics)
      String cmd =
          "TIMEFORMAT='cpu %U %S'; time timeout -s INT "
              + seconds
              + " ffmpeg -hide_banner -nostats -loglevel info"
              + " -f x11grab -framerate "
              + rate
              + " -video_size 1280x720 -i "
              + display
              + " -threads 1 -f mjpeg -q:v 3 -y /dev/null";
      long t0 = System.nanoTime();
      Process p = new ProcessBuilder("bash", "-c", cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      double wall = (System.nanoTime() - t0) / 1e9;
      var frames = java.util.regex.Pattern.compile("frame=\\s*(\\d+)").matcher(out);
      long n = 0;
      while (frames.find()) n = Long.parseLong(frames.group(1));
      var size = java.util.regex.Pattern.compile("video:(\\d+)(KiB|kB)").matcher(out);
      long kb = size.find() ? Long.parseLong(size.group(1)) : -1;
      var cpu = java.util.regex.Pattern.compile("cpu ([0-9.]+) ([0-9.]+)").matcher(out);
      double cpuS =
          cpu.find() ? Double.parseDouble(cpu.group(1)) + Double.parseDouble(cpu.group(2)) : -1;
      if (n == 0) {
        System.out.println("(ffmpeg failed: " + out.lines().reduce((a, b) -> b).orElse("") + ")");
        continue;
      }
      System.out.printf(
          "RESULT scenario=ffmpeg-x11grab framerate=%s size=1280x720 qv=3 frames=%d fps=%.1f "
              + "cpu_ms_per_frame=%.2f fps_per_core=%.1f kb_per_frame=%.0f load=%s%n",
          rate, n, n / wall, cpuS * 1000 / n, n / cpuS, kb / (double) n, loadavg().split(" ")[0]);
    }
  }

  static boolean onPath(String exe) {
    String path = System.getenv("PATH");
    if (path == null) return false;
    for (String dir : path.split(":"))
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, exe))) return true;
    return false;
  }

  static void relay(String display, int seconds, int fps, int quality, int width) throws Exception {
    try (AnchorCluster cluster =
        AnchorCluster.coordinator()
            .workers("screen-worker")
            .env("ANCHOR_LOG_LEVEL", "WARN")
            .env("ANCHOR_JS_WORKERS", "1")
            .env("ANCHOR_JAVA_OPTS", QueueBench.JAVA_OPTS)
            .workerEnv("ANCHOR_DISPLAY", display)
            .start()) {
      String base = cluster.node().url("");
      awaitScreen(base, cluster.worker("screen-worker").process);
      // single frames: GET /screen round trip (grab, encode, relay, HTTP)
      List<Long> rtt = new ArrayList<>();
      for (int i = 0; i < 60; i++) {
        long t0 = System.nanoTime();
        HttpResponse<byte[]> r =
            QueueBench.HTTP.send(
                AnchorProcess.authorized(
                        URI.create(
                            base
                                + "/api/nodes/screen-worker/screen?width="
                                + width
                                + "&quality="
                                + quality))
                    .GET()
                    .build(),
                HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200)
          throw new IllegalStateException(
              "GET /screen: " + r.statusCode() + " " + new String(r.body()));
        if (i >= 10) rtt.add((System.nanoTime() - t0) / 1_000);
      }
      long[] rs = rtt.stream().mapToLong(Long::longValue).sorted().toArray();
      System.out.printf(
          "RESULT scenario=screen-get width=%d quality=%d requests=%d p50_ms=%.1f p99_ms=%.1f load=%s%n",
          width,
          quality,
          rs.length,
          QueueBench.pct(rs, 50) / 1000.0,
          QueueBench.pct(rs, 99) / 1000.0,
          loadavg().split(" ")[0]);

      // the stream: warm for 2 s, then measure
      HttpResponse<InputStream> s =
          QueueBench.HTTP.send(
              AnchorProcess.authorized(
                      URI.create(
                          base
                              + "/api/nodes/screen-worker/screen/stream?fps="
                              + fps
                              + "&width="
                              + width
                              + "&quality="
                              + quality))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofInputStream());
      if (s.statusCode() != 200) throw new IllegalStateException("stream: " + s.statusCode());
      try (InputStream in = new BufferedInputStream(s.body(), 1 << 20)) {
        long warmEnd = System.currentTimeMillis() + 2000;
        while (System.currentTimeMillis() < warmEnd) readPart(in);
        List<Long> lat = new ArrayList<>();
        long bytes = 0;
        long t0 = System.currentTimeMillis(), end = t0 + seconds * 1000L;
        while (System.currentTimeMillis() < end) {
          long[] part = readPart(in);
          lat.add(System.currentTimeMillis() - part[0]);
          bytes += part[1];
        }
        long took = System.currentTimeMillis() - t0;
        long[] ls = lat.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.printf(
            "RESULT scenario=relay-stream requested_fps=%d width=%d quality=%d frames=%d fps=%.1f "
                + "latency_p50_ms=%d latency_p99_ms=%d latency_max_ms=%d kb_per_frame=%.0f load=%s%n",
            fps,
            width,
            quality,
            ls.length,
            ls.length * 1000.0 / took,
            QueueBench.pct(ls, 50),
            QueueBench.pct(ls, 99),
            ls[ls.length - 1],
            bytes / 1024.0 / ls.length,
            loadavg().split(" ")[0]);
      }
    }
  }

  /** Reads one part of the multipart stream: {capturedAtMs, length}. */
  static long[] readPart(InputStream in) throws IOException {
    long capturedAt = -1;
    int length = -1;
    String line;
    while ((line = line(in)) != null) {
      if (line.isEmpty()) {
        if (length >= 0) break;
        continue;
      }
      int colon = line.indexOf(':');
      if (colon < 0) continue;
      String k = line.substring(0, colon).trim().toLowerCase(),
          v = line.substring(colon + 1).trim();
      if (k.equals("content-length")) length = Integer.parseInt(v);
      if (k.equals("x-captured-at")) capturedAt = Long.parseLong(v);
    }
    if (line == null) throw new IOException("stream ended");
    in.readNBytes(length);
    return new long[] {capturedAt, length};
  }

  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(80);
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') break;
      if (c != '\r') b.write(c);
    }
    return c < 0 && b.size() == 0 ? null : b.toString(StandardCharsets.US_ASCII);
  }

  static void awaitScreen(String base, Process worker) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (System.nanoTime() < deadline) {
      if (!worker.isAlive()) throw new IllegalStateException("worker exited");
      HttpResponse<String> r =
          QueueBench.HTTP.send(
              AnchorProcess.authorized(
                      URI.create(base + "/api/nodes/screen-worker/screen?width=64"))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 200) return;
      TimeUnit.MILLISECONDS.sleep(500);
    }
    throw new IllegalStateException("the worker's screen never became available");
  }
}
