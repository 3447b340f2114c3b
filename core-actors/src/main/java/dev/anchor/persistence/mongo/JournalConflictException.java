package dev.anchor.persistence.mongo;

/**
 * A write hit a sequence number of the entity that is already stored: another incarnation of the
 * entity (for example on the other side of a network partition) wrote it first. The write is
 * rejected so the entity's history never forks; the persistent actor stops, and on restart it
 * replays the history that won.
 */
public final class JournalConflictException extends RuntimeException {

  private final String persistenceId;
  private final long sequenceNr;

  public JournalConflictException(String persistenceId, long sequenceNr, Throwable cause) {
    super(
        "event "
            + sequenceNr
            + " of '"
            + persistenceId
            + "' was already written by another writer;"
            + " this write is rejected so the history does not fork",
        cause);
    this.persistenceId = persistenceId;
    this.sequenceNr = sequenceNr;
  }

  public String persistenceId() {
    return persistenceId;
  }

  public long sequenceNr() {
    return sequenceNr;
  }
}
