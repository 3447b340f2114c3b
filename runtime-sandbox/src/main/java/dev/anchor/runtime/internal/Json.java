package dev.anchor.runtime.internal;

/**
 * The two JSON operations the sandbox needs without a JSON library: strict validation and string
 * quoting.
 */
public final class Json {
  private Json() {}

  /**
   * JSON text of an output: the output itself when it is one JSON value (surrounding whitespace
   * dropped), else the output as a JSON string.
   */
  public static String fromOutput(String text) {
    String trimmed = text.strip();
    if (!trimmed.isEmpty() && isValid(trimmed)) return trimmed;
    // A printed line ends with a newline that is not part of the value.
    return quote(
        text.endsWith("\r\n")
            ? text.substring(0, text.length() - 2)
            : text.endsWith("\n") ? text.substring(0, text.length() - 1) : text);
  }

  public static String quote(String s) {
    StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20 || Character.isSurrogate(c) && !validSurrogateAt(s, i)) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  private static boolean validSurrogateAt(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c))
      return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }

  /**
   * Whether {@code s} is exactly one JSON value (RFC 8259), optionally surrounded by whitespace.
   */
  public static boolean isValid(String s) {
    try {
      Parser p = new Parser(s);
      p.ws();
      p.value(0);
      p.ws();
      return p.pos == s.length();
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static final class Parser {
    private final String s;
    private int pos;

    Parser(String s) {
      this.s = s;
    }

    void ws() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') pos++;
        else break;
      }
    }

    char peek() {
      if (pos >= s.length()) throw new IllegalArgumentException("end");
      return s.charAt(pos);
    }

    void expect(String word) {
      if (!s.startsWith(word, pos)) throw new IllegalArgumentException(word);
      pos += word.length();
    }

    void value(int depth) {
      if (depth > 512) throw new IllegalArgumentException("depth");
      char c = peek();
      switch (c) {
        case '{' -> object(depth);
        case '[' -> array(depth);
        case '"' -> string();
        case 't' -> expect("true");
        case 'f' -> expect("false");
        case 'n' -> expect("null");
        default -> number();
      }
    }

    void object(int depth) {
      pos++;
      ws();
      if (peek() == '}') {
        pos++;
        return;
      }
      while (true) {
        ws();
        if (peek() != '"') throw new IllegalArgumentException("key");
        string();
        ws();
        expect(":");
        ws();
        value(depth + 1);
        ws();
        char c = peek();
        pos++;
        if (c == '}') return;
        if (c != ',') throw new IllegalArgumentException("object");
      }
    }

    void array(int depth) {
      pos++;
      ws();
      if (peek() == ']') {
        pos++;
        return;
      }
      while (true) {
        ws();
        value(depth + 1);
        ws();
        char c = peek();
        pos++;
        if (c == ']') return;
        if (c != ',') throw new IllegalArgumentException("array");
      }
    }

    void string() {
      pos++;
      while (true) {
        char c = peek();
        pos++;
        if (c == '"') return;
        if (c < 0x20) throw new IllegalArgumentException("control");
        if (c == '\\') {
          char e = peek();
          pos++;
          if (e == 'u') {
            for (int i = 0; i < 4; i++) {
              if (Character.digit(peek(), 16) < 0) throw new IllegalArgumentException("hex");
              pos++;
            }
          } else if ("\"\\/bfnrt".indexOf(e) < 0) {
            throw new IllegalArgumentException("escape");
          }
        }
      }
    }

    void number() {
      int start = pos;
      if (peek() == '-') pos++;
      if (peek() == '0') pos++;
      else digits();
      if (pos < s.length() && s.charAt(pos) == '.') {
        pos++;
        digits();
      }
      if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
        pos++;
        if (peek() == '+' || peek() == '-') pos++;
        digits();
      }
      if (pos == start) throw new IllegalArgumentException("number");
    }

    void digits() {
      int start = pos;
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
      if (pos == start) throw new IllegalArgumentException("digits");
    }
  }
}
