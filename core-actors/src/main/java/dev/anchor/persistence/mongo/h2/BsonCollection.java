package dev.anchor.persistence.mongo.h2;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractSynchronizedMongoCollection;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.DocumentWithPosition;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.Document;
import java.util.NoSuchElementException;
import java.util.UUID;
import java.util.stream.Stream;
import org.h2.mvstore.MVMap;

/**
 * A collection whose documents are stored as BSON bytes, keyed by their position (the {@code _id}
 * value). mongo-java- server's own H2 collection stores {@link Document} objects, which H2 writes
 * with Java serialization — class descriptors and all — every time the page holding them is
 * rewritten, i.e. at every commit that touches a neighbour. Bytes are encoded once per write and
 * copied as they are.
 */
final class BsonCollection extends AbstractSynchronizedMongoCollection<Object> {

  private static final String DATA_SIZE_KEY = "dataSize";

  private final MVMap<Object, byte[]> dataMap;
  private final MVMap<String, Object> metaMap;

  BsonCollection(
      MongoDatabase database,
      String collectionName,
      CollectionOptions options,
      MVMap<Object, byte[]> dataMap,
      MVMap<String, Object> metaMap,
      CursorRegistry cursorRegistry) {
    super(database, collectionName, options, cursorRegistry);
    this.dataMap = dataMap;
    this.metaMap = metaMap;
    metaMap.putIfAbsent(DATA_SIZE_KEY, 0L);
  }

  @Override
  protected void updateDataSize(int sizeDelta) {
    synchronized (metaMap) {
      Number value = (Number) metaMap.get(DATA_SIZE_KEY);
      metaMap.put(DATA_SIZE_KEY, value.longValue() + sizeDelta);
    }
  }

  @Override
  protected int getDataSize() {
    return ((Number) metaMap.get(DATA_SIZE_KEY)).intValue();
  }

  @Override
  protected Object addDocumentInternal(Document document) {
    Object key =
        getIdField() != null
            ? Utils.getSubdocumentValue(document, getIdField())
            : UUID.randomUUID();
    byte[] previous = dataMap.put(Missing.ofNullable(key), BsonBytes.encode(document));
    if (previous != null) {
      throw new IllegalStateException("document with key '" + key + "' already existed in " + this);
    }
    return key;
  }

  @Override
  public int count() {
    return dataMap.size();
  }

  @Override
  public boolean isEmpty() {
    return dataMap.isEmpty();
  }

  @Override
  protected Document getDocument(Object position) {
    byte[] bytes = dataMap.get(position);
    return bytes == null ? null : BsonBytes.decode(bytes);
  }

  @Override
  protected void removeDocument(Object position) {
    if (dataMap.remove(position) == null) {
      throw new NoSuchElementException("no document with key " + position);
    }
  }

  @Override
  protected Stream<DocumentWithPosition<Object>> streamAllDocumentsWithPosition() {
    return dataMap.entrySet().stream()
        .map(
            entry ->
                new DocumentWithPosition<>(BsonBytes.decode(entry.getValue()), entry.getKey()));
  }

  @Override
  protected QueryResult matchDocuments(
      Document query,
      Document orderBy,
      int numberToSkip,
      int limit,
      int batchSize,
      Document fieldSelector) {
    Stream<Document> documents;
    if (isNaturalDescending(orderBy)) {
      documents =
          streamAllDocumentsWithPosition()
              .sorted(
                  (o1, o2) -> ValueComparator.desc().compare(o1.getPosition(), o2.getPosition()))
              .map(DocumentWithPosition::getDocument);
    } else {
      documents = dataMap.values().stream().map(BsonBytes::decode);
    }
    return matchDocumentsFromStream(
        documents, query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
  }

  @Override
  protected void handleUpdate(Object position, Document oldDocument, Document newDocument) {
    dataMap.put(Missing.ofNullable(position), BsonBytes.encode(newDocument));
  }
}
