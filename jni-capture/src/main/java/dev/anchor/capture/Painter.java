package dev.anchor.capture;

import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.awt.image.BufferedImage;

/**
 * Draws on an X display's root window through Xlib (solid rectangles, whole images): what tests and
 * the benchmark show to the capture. Not for production use; one instance per thread.
 */
public final class Painter implements AutoCloseable {
  private final X11.Libs x;
  private final Pointer display;
  private final NativeLong root;
  private final Pointer gc;
  private final int screen;

  public Painter(String displayName) {
    this.x = X11.load();
    this.display = X11.openDisplay(x, displayName);
    if (display == null) throw new CaptureException("cannot open display " + displayName);
    this.screen = x.xlib().XDefaultScreen(display);
    this.root = x.xlib().XRootWindow(display, screen);
    this.gc = x.xlib().XCreateGC(display, root, new NativeLong(0), null);
  }

  /** Fills a rectangle with {@code rgb} (0xRRGGBB) and waits until the server has drawn it. */
  public void fill(int x0, int y0, int w, int h, int rgb) {
    x.xlib().XSetForeground(display, gc, new NativeLong(rgb & 0xffffffL));
    x.xlib().XFillRectangle(display, root, gc, x0, y0, w, h);
    x.xlib().XSync(display, 0);
  }

  /** Puts a TYPE_INT_RGB image at (x0, y0) and waits until the server has drawn it. */
  public void put(BufferedImage img, int x0, int y0) {
    int w = img.getWidth(), h = img.getHeight();
    int[] px = img.getRGB(0, 0, w, h, null, 0, w);
    Memory data = new Memory((long) w * h * 4);
    data.write(0, px, 0, px.length);
    Pointer image =
        x.xlib()
            .XCreateImage(
                display,
                x.xlib().XDefaultVisual(display, screen),
                x.xlib().XDefaultDepth(display, screen),
                X11.ZPIXMAP,
                0,
                data,
                w,
                h,
                32,
                w * 4);
    if (image == null) throw new CaptureException("XCreateImage failed");
    try {
      x.xlib().XPutImage(display, root, gc, image, 0, 0, x0, y0, w, h);
      x.xlib().XSync(display, 0);
    } finally {
      image.setPointer(X11.XIMAGE_DATA, null); // JNA's memory, not Xlib's
      X11.destroyImage(image);
    }
  }

  @Override
  public void close() {
    x.xlib().XFreeGC(display, gc);
    x.xlib().XCloseDisplay(display);
  }
}
