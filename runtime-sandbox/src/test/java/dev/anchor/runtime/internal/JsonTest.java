package dev.anchor.runtime.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class JsonTest {
  @Test
  void validatesStrictJson() {
    for (String ok :
        new String[] {
          "0", "-1.5e3", "\"a\\u00e9\\n\"", "[1, {\"a\": [true, false, null]}]", " {} "
        }) {
      assertTrue(Json.isValid(ok), ok);
    }
    for (String bad :
        new String[] {
          "", "01", "1.", "[1,]", "{a:1}", "'x'", "NaN", "\"\u0001\"", "1 2", "{\"a\":1"
        }) {
      assertFalse(Json.isValid(bad), bad);
    }
  }

  @Test
  void outputIsJsonWhenItParsesElseAString() {
    assertEquals("{\"a\":1}", Json.fromOutput("{\"a\":1}\n"));
    assertEquals("\"hello \\\"you\\\"\\tthere\"", Json.fromOutput("hello \"you\"\tthere\n"));
    assertEquals("\"\"", Json.fromOutput(""));
    assertEquals("\"\\u0000\"", Json.fromOutput("\0"));
  }
}
