package dev.anchor.consensus;

import static dev.anchor.consensus.CanonicalResult.canonicalJson;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CanonicalResultTest {

  @Test
  void objectKeysAreSortedAndWhitespaceRemoved() {
    assertEquals(
        "{\"a\":1,\"b\":[3,2,{\"x\":null,\"y\":true}],\"c\":\"s p\"}",
        canonicalJson(
            " {\n \"c\" : \"s p\",\t\"b\": [ 3, 2, {\"y\": true, \"x\": null} ], \"a\": 1 }\r\n"));
  }

  @Test
  void keysSortByUtf16CodeUnits() {
    // U+FF5E (one unit 0xFF5E) sorts after U+1F600 (surrogates 0xD83D...) in UTF-16 order, though
    // not by code point
    assertEquals(
        "{\"A\":1,\"a\":2,\"\uD83D\uDE00\":4,\"\uFF5E\":3}",
        canonicalJson("{\"\uFF5E\":3,\"a\":2,\"\uD83D\uDE00\":4,\"A\":1}"));
  }

  @Test
  void equalValuesWithDifferentKeyOrderAndSpacingHashEqually() {
    assertEquals(
        CanonicalResult.hash("js", "{\"a\":{\"p\":1,\"q\":[1,2]},\"b\":\"x\"}"),
        CanonicalResult.hash(
            "js", "{ \"b\" : \"x\", \"a\" : { \"q\" : [ 1 , 2 ], \"p\" : 1.0 } }"));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "1|1",
        "1.0|1",
        "1e0|1",
        "1.00|1",
        "10e-1|1",
        "100|100",
        "1E2|100",
        "-0|0",
        "0.0|0",
        "-0.0|0",
        "0e10|0",
        "0.5|0.5",
        "5e-1|0.5",
        "-1.50|-1.5",
        "123.4500|123.45",
        "1e20|100000000000000000000",
        "1e21|1e+21",
        "12e20|1.2e+21",
        "1e-7|0.0000001",
        "1e-8|1e-8",
        "1.5e-8|1.5e-8",
        "0.30000000000000004|0.30000000000000004",
        "-1e999999999|-1e+999999999"
      })
  void numbersHaveOneFormPerValue(String in, String canonical) {
    assertEquals(canonical, canonicalJson(in));
    assertEquals("[" + canonical + "]", canonicalJson("[" + in + "]"));
  }

  @Test
  void nearlyEqualDoublesStayDifferent() {
    assertNotEquals(
        CanonicalResult.hash("js", "0.30000000000000004"), CanonicalResult.hash("js", "0.3"));
  }

  @Test
  void bigIntegersAreExact() {
    // 2^63 and 2^64 + 1 are beyond long and lose their last digits through double
    assertEquals("9223372036854775808", canonicalJson("9223372036854775808"));
    assertEquals("18446744073709551617", canonicalJson("18446744073709551617"));
    assertNotEquals(canonicalJson("18446744073709551617"), canonicalJson("18446744073709551616"));
    assertEquals(
        "-1.2345678901234567890123456789e+29", canonicalJson("-123456789012345678901234567890"));
    assertEquals(
        canonicalJson("123456789012345678901234567890"),
        canonicalJson("1.2345678901234567890123456789e29"));
  }

  @Test
  void unicodeEscapesEqualLiteralCharacters() {
    assertEquals(canonicalJson("\"caf\u00e9\""), canonicalJson("\"caf\\u00e9\""));
    assertEquals("\"caf\u00e9\"", canonicalJson("\"caf\\u00E9\""));
    assertEquals("\"\uD83D\uDE00\"", canonicalJson("\"\\ud83d\\ude00\""));
    assertEquals("\"/\"", canonicalJson("\"\\/\""));
    assertArrayEquals(
        "{\"k\":\"é\"}".getBytes(StandardCharsets.UTF_8),
        CanonicalResult.bytes("js", "{\"k\":\"\\u00e9\"}"));
  }

  @Test
  void controlCharactersAndLoneSurrogatesAreEscapedLikeJsonStringify() {
    assertEquals(
        "\"a\\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u001f\"",
        canonicalJson("\"a\\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u001F\""));
    // lone surrogates cannot be UTF-8 encoded; escaping keeps two different ones different
    assertEquals("\"\\ud800\"", canonicalJson("\"\\uD800\""));
    assertNotEquals(
        CanonicalResult.hash("js", "\"\\ud800\""), CanonicalResult.hash("js", "\"\\ud801\""));
  }

  @Test
  void scalarsAndNestedEmptyContainers() {
    assertEquals("null", canonicalJson(" null "));
    assertEquals("true", canonicalJson("true"));
    assertEquals("\"x\"", canonicalJson("\"x\""));
    assertEquals(
        "{\"a\":[],\"b\":{},\"c\":[[{}]]}", canonicalJson("{\"c\":[[{}]],\"b\":{},\"a\":[]}"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "  ",
        "{",
        "{\"a\":1} x",
        "[1,]",
        "{\"a\":1,}",
        "01",
        "NaN",
        "'x'",
        "{a:1}",
        "// c\n1",
        "1 2",
        "{\"a\":1,\"a\":2}",
        "{\"x\":{\"a\":1,\"a\":1}}",
        "1e9999999999"
      })
  void invalidJsonIsRejected(String text) {
    assertThrows(IllegalArgumentException.class, () -> canonicalJson(text));
  }

  @Test
  void nullIsRejectedByCanonicalJsonButHashesAsNullText() {
    assertThrows(IllegalArgumentException.class, () -> canonicalJson(null));
    assertArrayEquals("null".getBytes(StandardCharsets.UTF_8), CanonicalResult.bytes("js", null));
    assertArrayEquals("null".getBytes(StandardCharsets.UTF_8), CanonicalResult.bytes("wasm", null));
  }

  @Test
  void invalidJsonFromJavaScriptIsComparedRaw() {
    assertArrayEquals(
        "{oops ".getBytes(StandardCharsets.UTF_8), CanonicalResult.bytes("js", "{oops "));
    assertNotEquals(CanonicalResult.hash("js", "{oops"), CanonicalResult.hash("js", "{oops "));
    assertEquals(CanonicalResult.hash("js", "{oops"), CanonicalResult.hash("js", "{oops"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"js", "JS", "javascript", "JavaScript", "isolated-vm", "Isolated-VM"})
  void javaScriptRuntimesCanonicalise(String runtime) {
    assertArrayEquals(
        "{\"a\":1,\"b\":2}".getBytes(StandardCharsets.UTF_8),
        CanonicalResult.bytes(runtime, "{ \"b\": 2.0, \"a\": 1 }"));
  }

  @Test
  void nullRuntimeCanonicalises() {
    assertEquals(CanonicalResult.hash(null, "1.0"), CanonicalResult.hash(null, "1"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"wasm", "native", "python"})
  void otherRuntimesCompareRawBytes(String runtime) {
    assertNotEquals(CanonicalResult.hash(runtime, "1.0"), CanonicalResult.hash(runtime, "1"));
    assertNotEquals(
        CanonicalResult.hash(runtime, "{\"a\":1,\"b\":2}"),
        CanonicalResult.hash(runtime, "{\"b\":2,\"a\":1}"));
    assertArrayEquals(
        " [1.0] ".getBytes(StandardCharsets.UTF_8), CanonicalResult.bytes(runtime, " [1.0] "));
  }

  @Test
  void hashIsPrefixedLowercaseSha256() {
    // SHA-256("1") is well known
    assertEquals(
        "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
        CanonicalResult.hash("js", "1.0"));
    assertEquals(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        CanonicalResult.sha256Hex(""));
    assertEquals(
        CanonicalResult.sha256Hex("é"),
        CanonicalResult.sha256Hex("é".getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void outcomeKeys() {
    String ok = CanonicalResult.outcomeKey("js", true, "{\"a\":1}", null, null);
    assertEquals(CanonicalResult.hash("js", "{\"a\":1}"), ok);
    assertEquals(
        ok, CanonicalResult.outcomeKey("js", true, "{ \"a\": 1.0 }", "ignored", "ignored"));

    String err = CanonicalResult.outcomeKey("js", false, null, "TypeError", "x is not a function");
    assertEquals(
        err,
        CanonicalResult.outcomeKey("js", false, "partial", "TypeError", "x is not a function"));
    assertEquals("error:" + CanonicalResult.sha256Hex("TypeError\nx is not a function"), err);
    assertNotEquals(
        err, CanonicalResult.outcomeKey("js", false, null, "TypeError", "y is not a function"));
    assertNotEquals(
        err, CanonicalResult.outcomeKey("js", false, null, "RangeError", "x is not a function"));
    assertNotEquals(ok, CanonicalResult.outcomeKey("js", false, "{\"a\":1}", null, null));
    assertTrue(ok.startsWith("sha256:") && err.startsWith("error:"));
  }
}
