package dev.anchor.queue;

/**
 * A job handed to a worker by XREADGROUP; acknowledged only after its result is recorded.
 *
 * @param parkedFor the node the coordinator named when it parked the job in a shared pool (what the
 *     task entity believes until the worker's Started reaches it), or null for a job placed on its
 *     node directly
 */
public record Delivery(String stream, String entryId, JobMessage job, String parkedFor) {
  public Delivery(String stream, String entryId, JobMessage job) {
    this(stream, entryId, job, null);
  }
}
