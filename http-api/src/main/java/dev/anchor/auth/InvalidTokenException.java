package dev.anchor.auth;

/**
 * A token that is missing, malformed, badly signed, of another algorithm, expired, not yet valid or
 * not for us.
 */
public final class InvalidTokenException extends Exception {
  public InvalidTokenException(String message) {
    super(message);
  }

  public InvalidTokenException(String message, Throwable cause) {
    super(message, cause);
  }
}
