package dev.anchor.capture;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * Scales a frame to a requested width (keeping the aspect ratio) and encodes it: JPEG through
 * libjpeg-turbo's TurboJPEG API when libturbojpeg is installed, else the JDK's ImageIO JPEG writer;
 * PNG through ImageIO. One encoder keeps its native handle and buffers, so it is used by one thread
 * at a time.
 */
public final class Encoder implements AutoCloseable {
  public enum Format {
    JPEG("image/jpeg"),
    PNG("image/png");

    public final String contentType;

    Format(String contentType) {
      this.contentType = contentType;
    }

    /** "jpeg", "jpg" or "png" (any case); null or blank = JPEG. */
    public static Format parse(String s) {
      if (s == null || s.isBlank()) return JPEG;
      return switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "jpeg", "jpg", "mjpeg" -> JPEG;
        case "png" -> PNG;
        default ->
            throw new IllegalArgumentException("format must be jpeg or png, not '" + s + "'");
      };
    }
  }

  /**
   * @param width wanted width in pixels, 0 = the screen's; never above the screen's (no upscaling)
   * @param quality JPEG quality 1–100 (ignored for PNG)
   */
  public record Request(int width, int quality, Format format) {
    public static final int DEFAULT_QUALITY = 80;

    public Request {
      if (width < 0 || width > 16384)
        throw new IllegalArgumentException("width must be 0–16384, not " + width);
      if (quality < 1 || quality > 100)
        throw new IllegalArgumentException("quality must be 1–100, not " + quality);
      if (format == null) format = Format.JPEG;
    }

    public static Request jpeg(int width, int quality) {
      return new Request(width, quality, Format.JPEG);
    }
  }

  /** An encoded frame. */
  public record Frame(byte[] data, String contentType, int width, int height, long capturedAtMs) {}

  private final boolean useTurbo;
  private TurboJpeg.Compressor turbo;
  private ImageWriter jpegWriter;
  private BufferedImage scaled;

  public Encoder() {
    this(true);
  }

  /**
   * @param allowTurbo false forces ImageIO's JPEG writer
   */
  public Encoder(boolean allowTurbo) {
    this.useTurbo = allowTurbo && TurboJpeg.available();
  }

  /** The JPEG encoder this machine uses: "turbojpeg" (libjpeg-turbo) or "imageio". */
  public static String jpegEncoderName() {
    return TurboJpeg.available() ? "turbojpeg" : "imageio";
  }

  public String jpegEncoder() {
    return useTurbo ? "turbojpeg" : "imageio";
  }

  /**
   * The size a frame of {@code srcW}×{@code srcH} gets for {@code width} (0 = unchanged, never
   * upscaled).
   */
  public static int[] targetSize(int srcW, int srcH, int width) {
    int w = width <= 0 || width >= srcW ? srcW : width;
    int h = Math.max(1, (int) Math.round((double) srcH * w / srcW));
    return new int[] {w, h};
  }

  /** Encodes {@code image} (TYPE_INT_RGB) as asked. */
  public Frame encode(BufferedImage image, Request req, long capturedAtMs) {
    int[] size = targetSize(image.getWidth(), image.getHeight(), req.width());
    BufferedImage img = size[0] == image.getWidth() ? image : scale(image, size[0], size[1]);
    byte[] data =
        switch (req.format()) {
          case JPEG -> jpeg(img, req.quality());
          case PNG -> png(img);
        };
    return new Frame(data, req.format().contentType, size[0], size[1], capturedAtMs);
  }

  private BufferedImage scale(BufferedImage src, int w, int h) {
    if (scaled == null || scaled.getWidth() != w || scaled.getHeight() != h) {
      scaled = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    }
    Graphics2D g = scaled.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(src, 0, 0, w, h, null);
    } finally {
      g.dispose();
    }
    return scaled;
  }

  private byte[] jpeg(BufferedImage img, int quality) {
    if (useTurbo
        && img.getType() == BufferedImage.TYPE_INT_RGB
        && img.getRaster().getDataBuffer() instanceof DataBufferInt db
        && db.getNumBanks() == 1) {
      if (turbo == null) turbo = new TurboJpeg.Compressor();
      return turbo.compress(db.getData(), img.getWidth(), img.getHeight(), quality);
    }
    if (jpegWriter == null) jpegWriter = ImageIO.getImageWritersByFormatName("jpeg").next();
    ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);
    try (MemoryCacheImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
      ImageWriteParam p = jpegWriter.getDefaultWriteParam();
      p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
      p.setCompressionQuality(quality / 100f);
      jpegWriter.setOutput(ios);
      jpegWriter.write(null, new IIOImage(img, null, null), p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static byte[] png(BufferedImage img) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256 * 1024);
    try {
      ImageIO.write(img, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  @Override
  public void close() {
    if (turbo != null) turbo.close();
    if (jpegWriter != null) jpegWriter.dispose();
  }
}
