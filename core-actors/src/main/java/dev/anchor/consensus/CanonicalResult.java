package dev.anchor.consensus;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The bytes replicas of a verified task are compared on, and the keys they vote with.
 *
 * <p>JavaScript results are compared on canonical JSON so that replicas which produce the same
 * value agree even if their engines print it differently (key order, {@code 1.0} vs {@code 1},
 * {@code "\u00e9"} vs {@code "é"}). Other runtimes (wasm, native) report bytes the task itself
 * produced, so there any difference is a real difference and the raw text is compared.
 *
 * <h2>Canonical JSON</h2>
 *
 * <ul>
 *   <li>Object members sorted by key, in UTF-16 code unit order ({@link String#compareTo});
 *       duplicate keys are rejected because engines disagree on which one wins.
 *   <li>No whitespace outside strings; arrays keep their order.
 *   <li>Numbers are parsed exactly (BigDecimal/BigInteger, never through double) and printed in one
 *       form per numeric value: zero (including {@code -0}, {@code 0.0}) is {@code 0}; trailing
 *       fractional zeros are removed; a value whose magnitude is in [1e-7, 1e21) is written plainly
 *       ({@code 1}, {@code 0.5}, {@code 123.45}, {@code 18446744073709551616}), any other value in
 *       exponent form with all its significant digits, mantissa in [1, 10) and a signed exponent
 *       ({@code 1e+21}, {@code 1.5e-8}, {@code 1.180591620717411303424e+21}). This is ECMAScript's
 *       Number-to-String layout extended to arbitrary precision, so what a JavaScript engine prints
 *       for a double is already canonical, and the output size stays bounded by the input's digit
 *       count (a plain rendering of {@code 1e999999999} would be a billion characters).
 *   <li>Strings are written as ECMAScript's {@code JSON.stringify} writes them: {@code \"}, {@code
 *       \\}, {@code \b \f \n \r \t}, other control characters and unpaired surrogates as lowercase
 *       {@code \}{@code u00xx}, every other character literally (UTF-8 in {@link #bytes}).
 * </ul>
 *
 * Jackson's default read limits apply (numbers up to 1000 characters, strings up to 20 million
 * characters, nesting up to 1000 levels); beyond them the text is treated as invalid JSON, which
 * {@link #bytes} then compares raw. Raw bytes of invalid text can never equal the canonical text of
 * valid JSON, so that fallback cannot make different results agree.
 */
public final class CanonicalResult {

  private static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .build();

  /**
   * Magnitudes in [10^PLAIN_MIN_EXPONENT, 10^PLAIN_MAX_EXPONENT) are written without an exponent.
   */
  private static final long PLAIN_MIN_EXPONENT = -7;

  private static final long PLAIN_MAX_EXPONENT = 21;

  private static final HexFormat HEX = HexFormat.of();

  private CanonicalResult() {}

  /**
   * The canonical text of a JSON document (see the class comment).
   *
   * @throws IllegalArgumentException if {@code json} is null, empty or not exactly one valid JSON
   *     value
   */
  public static String canonicalJson(String json) {
    if (json == null) {
      throw new IllegalArgumentException("not JSON: null");
    }
    JsonNode root;
    try {
      root = MAPPER.readTree(json);
    } catch (IOException | RuntimeException e) {
      // RuntimeException too: BigDecimal parsing of an exponent beyond int range throws
      // NumberFormatException
      throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || root.isMissingNode()) {
      throw new IllegalArgumentException("not valid JSON: no value");
    }
    StringBuilder out = new StringBuilder(json.length());
    write(root, out);
    return out.toString();
  }

  /**
   * What replicas are compared on. For JavaScript runtimes ({@code js}, {@code javascript}, {@code
   * isolated-vm}, any case, or null): the UTF-8 of {@link #canonicalJson}, or the raw UTF-8 when
   * the result is not valid JSON. For every other runtime: the raw UTF-8 of the result exactly as
   * reported. A null result is the text {@code null}.
   */
  public static byte[] bytes(String runtime, String resultJson) {
    String text = resultJson == null ? "null" : resultJson;
    if (isJavaScript(runtime)) {
      try {
        text = canonicalJson(text);
      } catch (IllegalArgumentException notJson) {
        // compared raw: replicas printing the same invalid text still agree, different text still
        // differs
      }
    }
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** {@code "sha256:" + } lowercase hex SHA-256 of {@link #bytes}. */
  public static String hash(String runtime, String resultJson) {
    return "sha256:" + sha256Hex(bytes(runtime, resultJson));
  }

  /**
   * The key a replica votes with. Success: {@link #hash}. Failure: {@code "error:" +} SHA-256 hex
   * of {@code errorKind + "\n" + error} (null parts as the text {@code null}), so replicas that
   * fail the same deterministic way agree on that failure, and a failure never equals a success.
   */
  public static String outcomeKey(
      String runtime, boolean success, String resultJson, String errorKind, String error) {
    if (success) {
      return hash(runtime, resultJson);
    }
    return "error:" + sha256Hex(errorKind + "\n" + error);
  }

  /** Lowercase hex SHA-256 of the UTF-8 of {@code text}. */
  public static String sha256Hex(String text) {
    return sha256Hex(text.getBytes(StandardCharsets.UTF_8));
  }

  /** Lowercase hex SHA-256 of {@code bytes}. */
  public static String sha256Hex(byte[] bytes) {
    try {
      return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  static boolean isJavaScript(String runtime) {
    if (runtime == null) {
      return true;
    }
    return switch (runtime.toLowerCase(Locale.ROOT)) {
      case "js", "javascript", "isolated-vm" -> true;
      default -> false;
    };
  }

  private static void write(JsonNode node, StringBuilder out) {
    switch (node.getNodeType()) {
      case OBJECT -> {
        List<String> keys = new ArrayList<>(node.size());
        for (Map.Entry<String, JsonNode> member : node.properties()) {
          keys.add(member.getKey());
        }
        Collections.sort(keys);
        out.append('{');
        boolean first = true;
        for (String key : keys) {
          if (!first) {
            out.append(',');
          }
          first = false;
          writeString(key, out);
          out.append(':');
          write(node.get(key), out);
        }
        out.append('}');
      }
      case ARRAY -> {
        out.append('[');
        for (int i = 0; i < node.size(); i++) {
          if (i > 0) {
            out.append(',');
          }
          write(node.get(i), out);
        }
        out.append(']');
      }
      case STRING -> writeString(node.textValue(), out);
      case NUMBER ->
          out.append(
              canonicalNumber(
                  node.isIntegralNumber()
                      ? new BigDecimal(node.bigIntegerValue())
                      : node.decimalValue()));
      case BOOLEAN -> out.append(node.booleanValue() ? "true" : "false");
      case NULL -> out.append("null");
      default -> throw new IllegalArgumentException("unexpected JSON node " + node.getNodeType());
    }
  }

  /** See the class comment for the layout. Package-private for tests. */
  static String canonicalNumber(BigDecimal value) {
    if (value.signum() == 0) {
      return "0";
    }
    BigDecimal v = value.stripTrailingZeros();
    String digits = v.unscaledValue().abs().toString();
    // value = 0.<digits> * 10^(digits.length - scale) = d.ddd * 10^exponent
    long exponent = (long) digits.length() - 1 - v.scale();
    StringBuilder s = new StringBuilder(digits.length() + 24);
    if (v.signum() < 0) {
      s.append('-');
    }
    if (exponent >= PLAIN_MIN_EXPONENT && exponent < PLAIN_MAX_EXPONENT) {
      if (exponent < 0) {
        s.append("0.");
        s.append("0".repeat((int) (-exponent - 1)));
        s.append(digits);
      } else if (exponent + 1 >= digits.length()) {
        s.append(digits);
        s.append("0".repeat((int) (exponent + 1 - digits.length())));
      } else {
        s.append(digits, 0, (int) exponent + 1)
            .append('.')
            .append(digits, (int) exponent + 1, digits.length());
      }
    } else {
      s.append(digits.charAt(0));
      if (digits.length() > 1) {
        s.append('.').append(digits, 1, digits.length());
      }
      s.append('e').append(exponent > 0 ? "+" : "").append(exponent);
    }
    return s.toString();
  }

  private static void writeString(String text, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            escape(c, out);
          } else if (Character.isHighSurrogate(c)) {
            if (i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
              out.append(c).append(text.charAt(++i));
            } else {
              escape(
                  c, out); // unpaired: UTF-8 cannot carry it, and '?' would merge distinct strings
            }
          } else if (Character.isLowSurrogate(c)) {
            escape(c, out);
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  private static void escape(char c, StringBuilder out) {
    out.append("\\u").append(HEX.toHexDigits(c));
  }
}
