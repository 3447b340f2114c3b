package dev.anchor.capture;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.NativeLongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * libjpeg-turbo's TurboJPEG API (libturbojpeg.so.0, Debian package libturbojpeg0) through JNA, when
 * installed.
 */
final class TurboJpeg {
  static final int TJPF_BGRX = 3;
  static final int TJSAMP_420 = 2;
  static final int TJFLAG_FASTDCT = 2048;

  interface Lib extends Library {
    Pointer tjInitCompress();

    int tjCompress2(
        Pointer handle,
        int[] src,
        int width,
        int pitch,
        int height,
        int pixelFormat,
        PointerByReference jpegBuf,
        NativeLongByReference jpegSize,
        int subsamp,
        int quality,
        int flags);

    void tjFree(Pointer buffer);

    int tjDestroy(Pointer handle);

    String tjGetErrorStr2(Pointer handle);
  }

  private static final Object LIB = loadLib();

  private static Object loadLib() {
    if ("off".equalsIgnoreCase(System.getenv("ANCHOR_CAPTURE_TURBOJPEG")))
      return "turned off (ANCHOR_CAPTURE_TURBOJPEG=off)";
    try {
      return Native.load("turbojpeg", Lib.class);
    } catch (UnsatisfiedLinkError e) {
      try {
        return Native.load("libturbojpeg.so.0", Lib.class);
      } catch (UnsatisfiedLinkError e2) {
        return "libturbojpeg not installed";
      }
    } catch (NoClassDefFoundError e) {
      return "JNA unavailable";
    }
  }

  private TurboJpeg() {}

  static boolean available() {
    return LIB instanceof Lib;
  }

  /** One compressor handle; not thread-safe. */
  static final class Compressor implements AutoCloseable {
    private final Lib lib = (Lib) LIB;
    private final Pointer handle = lib.tjInitCompress();

    Compressor() {
      if (handle == null) throw new CaptureException("tjInitCompress failed");
    }

    /**
     * @param pixels 0x00RRGGBB ints: little-endian bytes B, G, R, X
     */
    byte[] compress(int[] pixels, int width, int height, int quality) {
      PointerByReference buf = new PointerByReference();
      NativeLongByReference size = new NativeLongByReference(new NativeLong(0));
      int rc =
          lib.tjCompress2(
              handle,
              pixels,
              width,
              width * 4,
              height,
              TJPF_BGRX,
              buf,
              size,
              TJSAMP_420,
              quality,
              TJFLAG_FASTDCT);
      if (rc != 0) {
        if (buf.getValue() != null) lib.tjFree(buf.getValue());
        throw new CaptureException("TurboJPEG: " + lib.tjGetErrorStr2(handle));
      }
      try {
        return buf.getValue().getByteArray(0, (int) size.getValue().longValue());
      } finally {
        lib.tjFree(buf.getValue());
      }
    }

    private boolean closed;

    /** Frees the handle; a second call does nothing (tjDestroy twice crashes the JVM). */
    @Override
    public synchronized void close() {
      if (closed) return;
      closed = true;
      lib.tjDestroy(handle);
    }
  }
}
