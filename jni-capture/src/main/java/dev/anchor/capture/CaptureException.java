package dev.anchor.capture;

/** A display that cannot be opened or captured; the message says why in one line. */
public class CaptureException extends RuntimeException {
  public CaptureException(String message) {
    super(message);
  }
}
