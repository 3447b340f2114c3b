package dev.anchor.persistence;

import java.util.Set;

/**
 * Event tags an entity gives the journal so it knows, durably, which entities have begun and not
 * yet ended: the event that begins an entity's work is tagged {@link #OPEN}, the one that ends it
 * {@link #CLOSE}. After a crash the open ones are started again, which is what remember-entities
 * did at the cost of two more journal writes per entity.
 */
public final class LifecycleTags {
  public static final String OPEN_TAG = "anchor:open";
  public static final String CLOSE_TAG = "anchor:close";
  public static final Set<String> OPEN = Set.of(OPEN_TAG);
  public static final Set<String> CLOSE = Set.of(CLOSE_TAG);

  private LifecycleTags() {}
}
