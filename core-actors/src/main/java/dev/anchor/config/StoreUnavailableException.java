package dev.anchor.config;

/**
 * A store (MongoDB, Redis) named by its URI could not be reached; the message is meant for the
 * operator as is.
 */
public final class StoreUnavailableException extends RuntimeException {
  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
