package dev.anchor.auth;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * What a token allows, from its {@code roles} claim. Roles do not imply each other: an operator who
 * also reads and submits holds all three, so a token handed to a submitting script cannot drain
 * nodes.
 */
public enum ApiRole {
  /** tasks, DAGs and map-reduce: submit and cancel */
  SUBMIT,
  /** tasks, DAGs, nodes, queue statistics and their event streams: read */
  READ,
  /** drain, cordon, uncordon, release nodes; fraud evidence */
  OPERATE;

  public String claim() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** "submit,read" (commas or spaces); an unknown name is an IllegalArgumentException naming it. */
  public static Set<ApiRole> parseList(String list) {
    Set<ApiRole> roles = EnumSet.noneOf(ApiRole.class);
    for (String s : list.split("[,\\s]+")) {
      if (s.isBlank()) continue;
      roles.add(parse(s));
    }
    return roles;
  }

  public static ApiRole parse(String s) {
    for (ApiRole r : values()) if (r.claim().equals(s.trim().toLowerCase(Locale.ROOT))) return r;
    throw new IllegalArgumentException("unknown role '" + s.trim() + "' (submit, read, operate)");
  }
}
