package dev.anchor.queue;

/** A job handed to a worker by XREADGROUP; acknowledged only after its result is recorded. */
public record Delivery(String stream, String entryId, JobMessage job) {}
