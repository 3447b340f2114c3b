package dev.anchor.http;

/** A client mistake: answered 400 with the message and the JSON field it concerns. */
public final class BadRequest extends RuntimeException {
  private final String field;

  public BadRequest(String field, String message) {
    super(message);
    this.field = field;
  }

  public String field() {
    return field;
  }
}
