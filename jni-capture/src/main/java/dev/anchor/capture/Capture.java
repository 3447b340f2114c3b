package dev.anchor.capture;

import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;

/**
 * Frames of an X display's root window, grabbed through the MIT shared-memory extension ({@code
 * XShmGetImage} into a System V segment the X server writes directly), or through plain {@code
 * XGetImage} when the extension is missing or the server cannot attach the segment (a remote
 * display). Native calls go through JNA to libX11 and libXext; nothing is shelled out.
 *
 * <p>One instance holds one display connection and is used by one thread at a time (its methods are
 * synchronized). Frames come out as {@code TYPE_INT_RGB} images (0x00RRGGBB), the layout of a
 * 24/32-bit TrueColor X image, so a grab is one copy from the segment.
 */
public final class Capture implements AutoCloseable {
  /** The capture methods, fastest first. */
  public enum Method {
    XSHM,
    XGETIMAGE
  }

  /**
   * Whether a display can be captured here.
   *
   * @param reason why not, when not available
   */
  public record Probe(
      boolean available,
      String reason,
      String display,
      int width,
      int height,
      Method method,
      String encoder) {}

  private final X11.Libs x;
  private final Pointer display;
  private final String displayName;
  private final NativeLong root;
  private final int width;
  private final int height;
  private Method method;
  // XShm resources
  private Pointer shmImage;
  private Memory shmInfo;
  private Pointer shmAddr;
  private int bytesPerLine;
  private boolean closed;
  private BufferedImage reused;

  private Capture(X11.Libs x, Pointer display, String displayName, boolean allowShm) {
    this.x = x;
    this.display = display;
    this.displayName = displayName;
    int screen = x.xlib().XDefaultScreen(display);
    this.root = x.xlib().XRootWindow(display, screen);
    this.width = x.xlib().XDisplayWidth(display, screen);
    this.height = x.xlib().XDisplayHeight(display, screen);
    int depth = x.xlib().XDefaultDepth(display, screen);
    if (depth != 24 && depth != 32) {
      x.xlib().XCloseDisplay(display);
      throw new CaptureException(
          "display "
              + displayName
              + " has depth "
              + depth
              + "; only 24/32-bit TrueColor is supported");
    }
    String shmOff = System.getenv("ANCHOR_CAPTURE_XSHM");
    if (allowShm
        && !"0".equals(shmOff)
        && !"off".equalsIgnoreCase(shmOff)
        && attachShm(screen, depth)) {
      method = Method.XSHM;
    } else {
      method = Method.XGETIMAGE;
    }
  }

  /**
   * The display named by {@code ANCHOR_DISPLAY}, else {@code DISPLAY}; null when neither is set.
   */
  public static String defaultDisplay() {
    String d = System.getenv("ANCHOR_DISPLAY");
    if (d == null || d.isBlank()) d = System.getenv("DISPLAY");
    return d == null || d.isBlank() ? null : d.trim();
  }

  /** Opens {@code displayName} (such as {@code ":99"}), preferring XShm. */
  public static Capture open(String displayName) {
    return open(displayName, true);
  }

  /**
   * @param allowShm false forces the {@code XGetImage} path (tests, comparison)
   */
  public static Capture open(String displayName, boolean allowShm) {
    if (displayName == null || displayName.isBlank()) {
      throw new CaptureException(
          "no display: set ANCHOR_DISPLAY or DISPLAY (or ANCHOR_XVFB=1 to start a virtual one)");
    }
    X11.Libs x;
    try {
      x = X11.load();
    } catch (UnsatisfiedLinkError e) {
      throw new CaptureException(e.getMessage());
    }
    Pointer d = X11.openDisplay(x, displayName);
    if (d == null) throw new CaptureException("cannot open display " + displayName);
    return new Capture(x, d, displayName, allowShm);
  }

  /** Whether {@code displayName} can be captured, and how; never throws. */
  public static Probe probe(String displayName) {
    String encoder = Encoder.jpegEncoderName();
    try (Capture c = open(displayName)) {
      return new Probe(true, null, displayName, c.width, c.height, c.method, encoder);
    } catch (CaptureException | UnsatisfiedLinkError e) {
      return new Probe(false, e.getMessage(), displayName, 0, 0, null, encoder);
    }
  }

  public int width() {
    return width;
  }

  public int height() {
    return height;
  }

  public String display() {
    return displayName;
  }

  public synchronized Method method() {
    return method;
  }

  /** One frame of the whole screen as a new {@code TYPE_INT_RGB} image. */
  public BufferedImage grab() {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    grabInto(((DataBufferInt) img.getRaster().getDataBuffer()).getData());
    return img;
  }

  /**
   * Grabs the screen into a buffer this capture reuses and encodes it with {@code encoder} (which
   * must not be used by another thread meanwhile).
   */
  public synchronized Encoder.Frame frame(Encoder encoder, Encoder.Request request) {
    if (reused == null) reused = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    long at = System.currentTimeMillis();
    grabInto(((DataBufferInt) reused.getRaster().getDataBuffer()).getData());
    return encoder.encode(reused, request, at);
  }

  /** Grabs the whole screen into {@code pixels} (at least width × height, row-major 0x00RRGGBB). */
  public synchronized void grabInto(int[] pixels) {
    if (closed) throw new CaptureException("capture of " + displayName + " is closed");
    if (X11.broken(display))
      throw new CaptureException("the connection to display " + displayName + " broke");
    if (pixels.length < width * height)
      throw new IllegalArgumentException("buffer smaller than the screen");
    if (method == Method.XSHM) {
      X11.lastErrorCode = 0;
      int ok = x.xext().XShmGetImage(display, root, shmImage, 0, 0, X11.ALL_PLANES);
      if (ok != 0 && X11.lastErrorCode == 0 && !X11.broken(display)) {
        copyRows(shmAddr, bytesPerLine, pixels);
        return;
      }
      if (X11.broken(display))
        throw new CaptureException("the connection to display " + displayName + " broke");
      // the server refused (screen resized, segment gone): fall back for good
      detachShm();
      method = Method.XGETIMAGE;
    }
    X11.lastErrorCode = 0;
    Pointer img =
        x.xlib().XGetImage(display, root, 0, 0, width, height, X11.ALL_PLANES, X11.ZPIXMAP);
    if (img == null || X11.broken(display)) {
      if (X11.broken(display))
        throw new CaptureException("the connection to display " + displayName + " broke");
      throw new CaptureException(
          "XGetImage failed on " + displayName + " (X error " + X11.lastErrorCode + ")");
    }
    try {
      if (img.getInt(X11.XIMAGE_BITS_PER_PIXEL) != 32) {
        throw new CaptureException(
            "unsupported pixel layout: "
                + img.getInt(X11.XIMAGE_BITS_PER_PIXEL)
                + " bits per pixel");
      }
      copyRows(img.getPointer(X11.XIMAGE_DATA), img.getInt(X11.XIMAGE_BYTES_PER_LINE), pixels);
    } finally {
      X11.destroyImage(img);
    }
  }

  private void copyRows(Pointer data, int stride, int[] pixels) {
    if (stride == width * 4) {
      data.read(0, pixels, 0, width * height);
    } else {
      for (int y = 0; y < height; y++) data.read((long) y * stride, pixels, y * width, width);
    }
    // the X server leaves the padding byte undefined (often 0xff): TYPE_INT_RGB ignores it, but
    // equality checks do not
    for (int i = 0, n = width * height; i < n; i++) pixels[i] &= 0x00ffffff;
  }

  private boolean attachShm(int screen, int depth) {
    try {
      if (x.xext().XShmQueryExtension(display) == 0) return false;
      Memory info = new Memory(X11.SHM_INFO_SIZE);
      info.clear();
      Pointer image =
          x.xext()
              .XShmCreateImage(
                  display,
                  x.xlib().XDefaultVisual(display, screen),
                  depth,
                  X11.ZPIXMAP,
                  null,
                  info,
                  width,
                  height);
      if (image == null) return false;
      if (image.getInt(X11.XIMAGE_BITS_PER_PIXEL) != 32
          || image.getInt(X11.XIMAGE_BYTE_ORDER) != 0
          || image.getNativeLong(X11.XIMAGE_RED_MASK).longValue() != 0xff0000L
          || image.getNativeLong(X11.XIMAGE_BLUE_MASK).longValue() != 0xffL) {
        X11.destroyShmImage(image);
        return false;
      }
      int stride = image.getInt(X11.XIMAGE_BYTES_PER_LINE);
      int shmid =
          x.libc()
              .shmget(
                  X11.IPC_PRIVATE, new NativeLong((long) stride * height), X11.IPC_CREAT | 0600);
      if (shmid < 0) {
        X11.destroyShmImage(image);
        return false;
      }
      Pointer addr = x.libc().shmat(shmid, null, 0);
      if (addr == null || Pointer.nativeValue(addr) == -1L) {
        x.libc().shmctl(shmid, X11.IPC_RMID, null);
        X11.destroyShmImage(image);
        return false;
      }
      info.setInt(X11.SHM_INFO_SHMID, shmid);
      info.setPointer(X11.SHM_INFO_SHMADDR, addr);
      info.setInt(X11.SHM_INFO_READONLY, 0);
      image.setPointer(X11.XIMAGE_DATA, addr);
      X11.lastErrorCode = 0;
      int attached = x.xext().XShmAttach(display, info);
      x.xlib().XSync(display, 0);
      // marked for removal now: the segment goes away with the last detach, also if this JVM dies
      x.libc().shmctl(shmid, X11.IPC_RMID, null);
      if (attached == 0 || X11.lastErrorCode != 0) {
        X11.destroyShmImage(image);
        x.libc().shmdt(addr);
        return false;
      }
      this.shmImage = image;
      this.shmInfo = info;
      this.shmAddr = addr;
      this.bytesPerLine = stride;
      return true;
    } catch (UnsatisfiedLinkError e) {
      return false;
    }
  }

  private void detachShm() {
    if (shmImage == null) return;
    if (!X11.broken(display)) {
      x.xext().XShmDetach(display, shmInfo);
      x.xlib().XSync(display, 0);
    }
    X11.destroyShmImage(shmImage);
    x.libc().shmdt(shmAddr);
    shmImage = null;
    shmAddr = null;
  }

  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    detachShm();
    // a broken connection is left as it is: closing it would only raise the I/O error again
    if (!X11.broken(display)) x.xlib().XCloseDisplay(display);
  }
}
