package dev.anchor.task;

/**
 * What just happened to a task, as told to {@link TaskEffects#changed}: the change feed's event
 * name and the queue counters follow from it. An enum rather than a string so that a switch over it
 * is checked by the compiler — a change nobody sends, or one nobody counts, shows up there.
 */
public enum TaskChange {
  SUBMITTED("Submitted"),
  DISPATCHED("Dispatched"),
  STARTED("Started"),
  WAITING("Waiting"),
  REQUEUED("Requeued"),
  RETRY_SCHEDULED("RetryScheduled"),
  /** A scheduled retry became due and its dispatch started (the task is no longer delayed). */
  RETRY_DUE("RetryDue"),
  VERIFICATION_STARTED("VerificationStarted"),
  REPLICA_DISPATCHED("Dispatched"),
  REPLICA_STARTED("Started"),
  REPLICA_REPORTED("ReplicaReported"),
  REPLICA_WITHDRAWN("Withdrawn"),
  COMPLETED("Completed"),
  FAILED("Failed"),
  CANCELLED("Cancelled");

  private final String eventName;

  TaskChange(String eventName) {
    this.eventName = eventName;
  }

  /** The name on the change feed and in server-sent events (the API's event names). */
  public String eventName() {
    return eventName;
  }

  public boolean ended() {
    return this == COMPLETED || this == FAILED || this == CANCELLED;
  }
}
