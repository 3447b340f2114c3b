package dev.anchor.capture;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;

/**
 * The few Xlib, MIT-SHM (libXext) and System V shared-memory (libc) calls the capture needs, bound
 * through JNA. Loaded lazily by {@link #load()}, which says why when a library is missing.
 */
final class X11 {
  static final int ZPIXMAP = 2;
  static final NativeLong ALL_PLANES = new NativeLong(-1L);
  static final int IPC_PRIVATE = 0;
  static final int IPC_CREAT = 01000;
  static final int IPC_RMID = 0;

  // offsets in XImage (LP64): width 0, height 4, xoffset 8, format 12, data 16, byte_order 24,
  // bitmap_unit 28,
  // bitmap_bit_order 32, bitmap_pad 36, depth 40, bytes_per_line 44, bits_per_pixel 48, red_mask
  // 56, green_mask 64,
  // blue_mask 72, obdata 80, f.create_image 88, f.destroy_image 96
  static final int XIMAGE_DATA = 16;
  static final int XIMAGE_BYTE_ORDER = 24;
  static final int XIMAGE_DEPTH = 40;
  static final int XIMAGE_BYTES_PER_LINE = 44;
  static final int XIMAGE_BITS_PER_PIXEL = 48;
  static final int XIMAGE_RED_MASK = 56;
  static final int XIMAGE_BLUE_MASK = 72;
  static final int XIMAGE_OBDATA = 80;
  static final int XIMAGE_DESTROY = 96;
  // XShmSegmentInfo (LP64): shmseg 0 (unsigned long), shmid 8 (int), shmaddr 16 (char*), readOnly
  // 24 (Bool); 32 bytes
  static final int SHM_INFO_SIZE = 32;
  static final int SHM_INFO_SHMID = 8;
  static final int SHM_INFO_SHMADDR = 16;
  static final int SHM_INFO_READONLY = 24;

  interface Xlib extends Library {
    int XInitThreads();

    Pointer XOpenDisplay(String name);

    int XCloseDisplay(Pointer display);

    int XDefaultScreen(Pointer display);

    NativeLong XRootWindow(Pointer display, int screen);

    int XDisplayWidth(Pointer display, int screen);

    int XDisplayHeight(Pointer display, int screen);

    Pointer XDefaultVisual(Pointer display, int screen);

    int XDefaultDepth(Pointer display, int screen);

    Pointer XGetImage(
        Pointer display,
        NativeLong drawable,
        int x,
        int y,
        int width,
        int height,
        NativeLong planeMask,
        int format);

    Pointer XCreateImage(
        Pointer display,
        Pointer visual,
        int depth,
        int format,
        int offset,
        Pointer data,
        int width,
        int height,
        int bitmapPad,
        int bytesPerLine);

    int XPutImage(
        Pointer display,
        NativeLong drawable,
        Pointer gc,
        Pointer image,
        int srcX,
        int srcY,
        int destX,
        int destY,
        int width,
        int height);

    Pointer XCreateGC(Pointer display, NativeLong drawable, NativeLong valueMask, Pointer values);

    int XFreeGC(Pointer display, Pointer gc);

    int XSetForeground(Pointer display, Pointer gc, NativeLong pixel);

    int XFillRectangle(
        Pointer display, NativeLong drawable, Pointer gc, int x, int y, int width, int height);

    int XSync(Pointer display, int discard);

    int XFree(Pointer data);

    Pointer XSetErrorHandler(ErrorHandler handler);

    Pointer XSetIOErrorHandler(IOErrorHandler handler);

    /** libX11 1.7+: called instead of exit() after a fatal I/O error (the display server died). */
    void XSetIOErrorExitHandler(Pointer display, IOErrorExitHandler handler, Pointer userData);

    int XGetErrorText(Pointer display, int code, byte[] buffer, int length);
  }

  interface ErrorHandler extends Callback {
    int invoke(Pointer display, Pointer event);
  }

  interface IOErrorHandler extends Callback {
    int invoke(Pointer display);
  }

  interface IOErrorExitHandler extends Callback {
    void invoke(Pointer display, Pointer userData);
  }

  interface Xext extends Library {
    int XShmQueryExtension(Pointer display);

    Pointer XShmCreateImage(
        Pointer display,
        Pointer visual,
        int depth,
        int format,
        Pointer data,
        Pointer shminfo,
        int width,
        int height);

    int XShmAttach(Pointer display, Pointer shminfo);

    int XShmDetach(Pointer display, Pointer shminfo);

    int XShmGetImage(
        Pointer display, NativeLong drawable, Pointer image, int x, int y, NativeLong planeMask);
  }

  interface LibC extends Library {
    int shmget(int key, NativeLong size, int flags);

    Pointer shmat(int shmid, Pointer addr, int flags);

    int shmdt(Pointer addr);

    int shmctl(int shmid, int cmd, Pointer buf);
  }

  /** XDestroyImage is a macro calling the image's own destroy function. */
  interface DestroyImage extends Callback {
    int invoke(Pointer image);
  }

  record Libs(Xlib xlib, Xext xext, LibC libc) {}

  private static volatile Object loaded;

  /**
   * The last X protocol error (code, request) on any display; Xlib's default handler would exit the
   * JVM.
   */
  static volatile int lastErrorCode;

  static volatile int lastErrorRequest;
  private static final ErrorHandler HANDLER =
      (display, event) -> {
        // XErrorEvent: type 0, display 8, resourceid 16, serial 24, error_code 32 (uchar),
        // request_code 33, minor 34
        lastErrorCode = event.getByte(32) & 0xff;
        lastErrorRequest = event.getByte(33) & 0xff;
        return 0;
      };

  /** Displays whose connection broke: Xlib's default would exit() the whole JVM instead. */
  static final java.util.Set<Long> brokenDisplays =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  private static final IOErrorHandler IO_HANDLER =
      display -> {
        if (display != null) brokenDisplays.add(Pointer.nativeValue(display));
        return 0;
      };
  private static final IOErrorExitHandler IO_EXIT_HANDLER =
      (display, userData) -> {
        if (display != null) brokenDisplays.add(Pointer.nativeValue(display));
      };
  private static volatile boolean exitHandlerMissing;

  private X11() {}

  /**
   * Opens a display whose fatal I/O errors (its X server died) do not exit the JVM: with libX11
   * 1.7+ a no-op exit handler replaces exit(); later calls on it fail and the capture says so. Null
   * when it cannot be opened.
   */
  static Pointer openDisplay(Libs x, String name) {
    Pointer d = x.xlib().XOpenDisplay(name);
    if (d == null) return null;
    brokenDisplays.remove(Pointer.nativeValue(d));
    if (!exitHandlerMissing) {
      try {
        x.xlib().XSetIOErrorExitHandler(d, IO_EXIT_HANDLER, null);
      } catch (UnsatisfiedLinkError old) {
        exitHandlerMissing =
            true; // libX11 before 1.7: a dying X server still ends the process, as in any X client
      }
    }
    return d;
  }

  static boolean broken(Pointer display) {
    return brokenDisplays.contains(Pointer.nativeValue(display));
  }

  /** The bound libraries, or an {@link UnsatisfiedLinkError} naming what is missing. */
  static synchronized Libs load() {
    if (loaded instanceof Libs l) return l;
    if (loaded instanceof String reason) throw new UnsatisfiedLinkError(reason);
    try {
      Xlib xlib = Native.load("X11", Xlib.class);
      Xext xext = Native.load("Xext", Xext.class);
      LibC libc = Native.load("c", LibC.class);
      xlib.XInitThreads();
      xlib.XSetErrorHandler(HANDLER);
      xlib.XSetIOErrorHandler(IO_HANDLER);
      Libs l = new Libs(xlib, xext, libc);
      loaded = l;
      return l;
    } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
      String reason = "X11 libraries not loadable (libX11.so.6, libXext.so.6): " + e.getMessage();
      loaded = reason;
      throw new UnsatisfiedLinkError(reason);
    }
  }

  /**
   * Frees an image of XShmCreateImage: its data is the segment and its obdata our segment info,
   * neither Xlib's.
   */
  static void destroyShmImage(Pointer image) {
    image.setPointer(XIMAGE_DATA, null);
    image.setPointer(XIMAGE_OBDATA, null);
    destroyImage(image);
  }

  static void destroyImage(Pointer image) {
    Pointer fn = image.getPointer(XIMAGE_DESTROY);
    if (fn == null) return;
    com.sun.jna.Function.getFunction(fn).invokeInt(new Object[] {image});
  }
}
