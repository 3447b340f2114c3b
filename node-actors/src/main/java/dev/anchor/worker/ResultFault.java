package dev.anchor.worker;

import dev.anchor.runtime.Outcome;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Chaos option for drills and tests of consensus verification: {@code ANCHOR_FAULT=corrupt-results}
 * makes this worker alter every successful result it reports, {@code corrupt-results:0.3} about 30
 * % of them. The altered result is valid JSON that differs from the true one, as a cheating or
 * broken node's would.
 */
public record ResultFault(double fraction) {
  public static final ResultFault NONE = new ResultFault(0);
  private static final String CORRUPT = "corrupt-results";
  private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /**
   * Parses the setting; empty means none, anything unknown is refused so a typo does not go
   * unnoticed.
   */
  public static ResultFault parse(String setting) {
    if (setting == null || setting.isBlank()) return NONE;
    String s = setting.trim().toLowerCase(Locale.ROOT);
    if (s.equals(CORRUPT)) return new ResultFault(1.0);
    if (s.startsWith(CORRUPT + ":")) {
      try {
        double f = Double.parseDouble(s.substring(CORRUPT.length() + 1));
        if (f >= 0 && f <= 1) return new ResultFault(f);
      } catch (NumberFormatException ignored) {
        // falls through to the error below
      }
    }
    throw new IllegalArgumentException(
        "ANCHOR_FAULT must be \"corrupt-results\" or \"corrupt-results:<0..1>\", not \""
            + setting
            + "\"");
  }

  public boolean active() {
    return fraction > 0;
  }

  public Outcome apply(Outcome outcome, String nodeId) {
    if (!(outcome instanceof Outcome.Success s) || fraction <= 0) return outcome;
    if (fraction < 1 && ThreadLocalRandom.current().nextDouble() >= fraction) return outcome;
    var forged = MAPPER.createObjectNode().put("forgedBy", nodeId).put("original", s.resultJson());
    return Outcome.Success.ofJson(forged.toString(), s.logs(), s.durationMs(), s.use());
  }
}
