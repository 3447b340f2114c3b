package dev.anchor.persistence.mongo;

import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.bson.Document;
import org.bson.types.Binary;

/**
 * Stores a payload as Pekko serializer id + manifest + bytes, so events and snapshots go through
 * whatever serializer the configuration binds (Jackson CBOR for {@code CborSerializable}).
 */
final class PayloadCodec {

  static final String SERIALIZER_ID = "sid";
  static final String MANIFEST = "sm";
  static final String BYTES = "p";

  private final Serialization serialization;

  PayloadCodec(ActorSystem system) {
    this.serialization = SerializationExtension.get(system);
  }

  /**
   * Adds the serialized payload's fields to the document; throws when the payload cannot be
   * serialized.
   */
  void write(Object payload, Document into) {
    Serializer serializer = serialization.findSerializerFor(payload);
    String manifest = Serializers.manifestFor(serializer, payload);
    byte[] bytes = serialization.serialize(payload).get();
    into.append(SERIALIZER_ID, serializer.identifier())
        .append(MANIFEST, manifest)
        .append(BYTES, bytes);
  }

  Object read(Document from) {
    Object bytes = from.get(BYTES);
    byte[] data = bytes instanceof Binary b ? b.getData() : (byte[]) bytes;
    return serialization
        .deserialize(data, from.getInteger(SERIALIZER_ID), from.getString(MANIFEST))
        .get();
  }
}
