package dev.anchor.persistence.mongo;

/**
 * MongoDB could not be reached (or the embedded server could not start); the message names the
 * store.
 */
public final class MongoStoreUnavailableException extends RuntimeException {
  public MongoStoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
