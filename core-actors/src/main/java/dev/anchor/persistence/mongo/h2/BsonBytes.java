package dev.anchor.persistence.mongo.h2;

import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * A stored document as BSON bytes: the server's own wire codec, so what it decoded from a client
 * round-trips.
 */
final class BsonBytes {

  private BsonBytes() {}

  static byte[] encode(Document document) {
    ByteBuf buf = Unpooled.buffer(256);
    try {
      BsonEncoder.encodeDocument(document, buf);
      byte[] bytes = new byte[buf.readableBytes()];
      buf.readBytes(bytes);
      return bytes;
    } finally {
      buf.release();
    }
  }

  static Document decode(byte[] bytes) {
    return BsonDecoder.decodeBson(Unpooled.wrappedBuffer(bytes));
  }
}
