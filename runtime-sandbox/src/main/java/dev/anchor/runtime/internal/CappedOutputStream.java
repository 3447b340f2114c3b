package dev.anchor.runtime.internal;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Collects at most {@code cap} bytes and silently drops the rest, remembering that it did.
 * Thread-safe.
 */
public final class CappedOutputStream extends OutputStream {
  private final int cap;
  private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
  private long total;

  public CappedOutputStream(int cap) {
    this.cap = cap;
  }

  @Override
  public synchronized void write(int b) {
    total++;
    if (buf.size() < cap) buf.write(b);
  }

  @Override
  public synchronized void write(byte[] b, int off, int len) {
    total += len;
    int room = cap - buf.size();
    if (room > 0) buf.write(b, off, Math.min(room, len));
  }

  public synchronized boolean truncated() {
    return total > buf.size();
  }

  public synchronized long totalBytes() {
    return total;
  }

  public synchronized byte[] bytes() {
    return buf.toByteArray();
  }

  /** The captured text, with a note when bytes were dropped. */
  public synchronized String text() {
    String s = buf.toString(StandardCharsets.UTF_8);
    return truncated()
        ? s + "\n[output truncated: " + total + " bytes written, " + cap + " kept]\n"
        : s;
  }
}
