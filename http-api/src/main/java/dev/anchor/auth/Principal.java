package dev.anchor.auth;

import java.time.Instant;
import java.util.Set;

/** Who a verified token speaks for: its subject, its roles and when it stops being valid. */
public record Principal(String subject, Set<ApiRole> roles, Instant expiresAt) {
  public Principal {
    roles = Set.copyOf(roles);
  }

  public boolean has(ApiRole role) {
    return roles.contains(role);
  }
}
