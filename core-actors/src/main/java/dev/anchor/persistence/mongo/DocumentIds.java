package dev.anchor.persistence.mongo;

import java.util.ArrayList;
import java.util.List;

/**
 * Document ids of the form {@code persistenceId|0000000000000000042}. Every read of the journal and
 * snapshot store is an exact {@code _id} lookup: the embedded server serves only those from an
 * index (anything else scans the collection), and on a real MongoDB they hit the mandatory unique
 * {@code _id} index. The fixed-width suffix keeps ids of one entity in sequence order and makes the
 * id unique for any persistence id, whatever characters it contains.
 */
final class DocumentIds {

  private static final String ZEROS = "0000000000000000000";

  private DocumentIds() {}

  static String of(String persistenceId, long sequenceNr) {
    String seq = Long.toString(sequenceNr);
    return persistenceId + '|' + ZEROS.substring(seq.length()) + seq;
  }

  /** The zero-padded sequence number alone (usable as a field name). */
  static String padded(long sequenceNr) {
    String seq = Long.toString(sequenceNr);
    return ZEROS.substring(seq.length()) + seq;
  }

  /** Ids from {@code from} to {@code to}, both inclusive. */
  static List<String> range(String persistenceId, long from, long to) {
    List<String> ids = new ArrayList<>((int) Math.max(0, to - from + 1));
    for (long seq = from; seq <= to; seq++) {
      ids.add(of(persistenceId, seq));
    }
    return ids;
  }
}
