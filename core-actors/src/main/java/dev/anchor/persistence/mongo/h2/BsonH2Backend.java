package dev.anchor.persistence.mongo.h2;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractMongoBackend;
import org.h2.mvstore.MVStore;

/**
 * mongo-java-server backend on an H2 MVStore file with documents stored as BSON and index keys
 * typed ({@link BsonCollection}, {@link KeyValueType}): the same wire behaviour as the library's H2
 * backend, without Java serialization on the write path. A file in the library's format is migrated
 * at open ({@link LegacyFormat}).
 */
public final class BsonH2Backend extends AbstractMongoBackend {

  private final MVStore store;

  public BsonH2Backend(MVStore store) {
    this.store = store;
    LegacyFormat.migrate(store);
    store.getMapNames().stream()
        .map(MapNames::databaseOfDataMap)
        .filter(java.util.Objects::nonNull)
        .distinct()
        .forEach(this::resolveDatabase);
  }

  /** Writes everything acknowledged so far to the file (to the OS: see {@link #sync()}). */
  public void commit() {
    store.commit();
  }

  /** Forces what was written to the file onto the disk. */
  public void sync() {
    store.sync();
  }

  @Override
  protected MongoDatabase openOrCreateDatabase(String databaseName) {
    return new BsonDatabase(databaseName, store, getCursorRegistry());
  }

  @Override
  public void close() {
    super.close();
    store.close();
  }

  @Override
  public String toString() {
    return "BsonH2Backend["
        + (store.getFileStore() == null ? "in-memory" : store.getFileStore().getFileName())
        + "]";
  }
}
