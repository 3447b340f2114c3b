package dev.anchor;

/**
 * Marker for every message, event and state that crosses the wire or lands in the journal. Bound to
 * Jackson CBOR in application.conf so no class relies on Java serialization.
 */
public interface CborSerializable {}
