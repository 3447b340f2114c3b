package dev.anchor.persistence.mongo.h2;

import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.bson.Document;
import java.util.List;
import java.util.Map;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Migrates a store file written by mongo-java-server's own H2 backend (Anchor before the BSON
 * format: documents and index keys Java-serialized) to {@link MapNames this format}, once, at open.
 * Old maps are removed in the same commit that makes the new ones durable; if the process dies
 * before that commit the old maps are still there and the next start begins again from them,
 * discarding any half-copied new ones.
 */
final class LegacyFormat {

  private static final Logger log = LoggerFactory.getLogger(LegacyFormat.class);

  private static final String DATA = "databases.";
  private static final String META = "meta.";
  private static final String INDEX_MARK = "._index_";

  private LegacyFormat() {}

  static boolean isLegacy(String mapName) {
    return mapName.startsWith(DATA)
        || mapName.startsWith(META)
        || (mapName.contains(INDEX_MARK) && !mapName.startsWith("bson."));
  }

  static void migrate(MVStore store) {
    List<String> legacy = store.getMapNames().stream().filter(LegacyFormat::isLegacy).toList();
    if (legacy.isEmpty()) {
      return;
    }
    long started = System.nanoTime();
    for (String name : List.copyOf(store.getMapNames())) {
      if (name.startsWith("bson.")) {
        store.removeMap(name); // a previous, interrupted migration's copy
      }
    }
    long documents = 0;
    for (String name : legacy) {
      MVMap<Object, Object> old = store.openMap(name);
      if (name.startsWith(DATA)) {
        MVMap<Object, byte[]> data = store.openMap(MapNames.data(name.substring(DATA.length())));
        for (Map.Entry<Object, Object> e : old.entrySet()) {
          data.put(e.getKey(), BsonBytes.encode((Document) e.getValue()));
          documents++;
        }
      } else if (name.startsWith(META)) {
        MVMap<Object, Object> meta = store.openMap(MapNames.meta(name.substring(META.length())));
        meta.putAll(old);
      } else {
        int mark = name.indexOf(INDEX_MARK);
        MVMap<KeyValue, Object> index =
            BsonDatabase.openIndexMap(
                store,
                MapNames.index(
                    name.substring(0, mark), name.substring(mark + INDEX_MARK.length())));
        for (Map.Entry<Object, Object> e : old.entrySet()) {
          index.put((KeyValue) e.getKey(), e.getValue());
        }
      }
    }
    for (String name : legacy) {
      store.removeMap(name);
    }
    store.commit();
    log.info(
        "store file migrated to the BSON format: {} documents in {} maps, {} ms",
        documents,
        legacy.size(),
        (System.nanoTime() - started) / 1_000_000);
  }
}
