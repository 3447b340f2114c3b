package dev.anchor.http;

/**
 * Whether this node can take a submission now: why not (a store it must write to is unreachable, as
 * last probed), or null. Read on every submit, so it answers from cached probes and never waits.
 */
@FunctionalInterface
public interface SubmitCheck {
  SubmitCheck ALWAYS = () -> null;

  String refusal();
}
