package dev.anchor.persistence.mongo.h2;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractSynchronizedMongoDatabase;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.oplog.Oplog;
import java.util.List;
import org.h2.mvstore.FileStore;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

/**
 * A database of {@link BsonCollection}s and {@link TypedUniqueIndex}es in one MVStore; map names:
 * {@link MapNames}.
 */
final class BsonDatabase extends AbstractSynchronizedMongoDatabase<Object> {

  private final MVStore store;

  BsonDatabase(String databaseName, MVStore store, CursorRegistry cursorRegistry) {
    super(databaseName, cursorRegistry);
    this.store = store;
    initializeNamespacesAndIndexes();
  }

  static MVMap<KeyValue, Object> openIndexMap(MVStore store, String name) {
    return store.openMap(
        name, new MVMap.Builder<KeyValue, Object>().keyType(KeyValueType.INSTANCE));
  }

  @Override
  protected Index<Object> openOrCreateUniqueIndex(
      String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
    String name = MapNames.index(getFullCollectionNamespace(collectionName), indexName);
    return new TypedUniqueIndex(openIndexMap(store, name), indexName, keys, sparse);
  }

  @Override
  protected void dropIndex(MongoCollection<Object> collection, String indexName) {
    super.dropIndex(collection, indexName);
    store.removeMap(MapNames.index(collection.getFullName(), indexName));
  }

  @Override
  public void drop(Oplog oplog) {
    super.drop(oplog);
    for (String name : List.copyOf(store.getMapNames())) {
      if (MapNames.belongsTo(name, databaseName)) {
        store.removeMap(name);
      }
    }
  }

  @Override
  protected MongoCollection<Object> openOrCreateCollection(
      String collectionName, CollectionOptions options) {
    String fullName = getFullCollectionNamespace(collectionName);
    MVMap<Object, byte[]> data = store.openMap(MapNames.data(fullName));
    MVMap<String, Object> meta = store.openMap(MapNames.meta(fullName));
    return new BsonCollection(this, collectionName, options, data, meta, cursorRegistry);
  }

  @Override
  protected long getStorageSize() {
    FileStore<?> fileStore = store.getFileStore();
    return fileStore == null ? 0 : fileStore.size();
  }

  @Override
  protected long getFileSize() {
    return getStorageSize();
  }

  @Override
  public void dropCollection(String collectionName, Oplog oplog) {
    super.dropCollection(collectionName, oplog);
    String fullName = getFullCollectionNamespace(collectionName);
    store.removeMap(MapNames.data(fullName));
    store.removeMap(MapNames.meta(fullName));
  }

  @Override
  public void moveCollection(
      MongoDatabase oldDatabase, MongoCollection<?> collection, String newCollectionName) {
    super.moveCollection(oldDatabase, collection, newCollectionName);
    String oldName = collection.getFullName();
    String newName = getFullCollectionNamespace(newCollectionName);
    store.renameMap(store.openMap(MapNames.data(oldName)), MapNames.data(newName));
    store.renameMap(store.openMap(MapNames.meta(oldName)), MapNames.meta(newName));
  }
}
