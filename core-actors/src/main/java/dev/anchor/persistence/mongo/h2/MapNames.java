package dev.anchor.persistence.mongo.h2;

/**
 * Names of the MVStore maps of this format. They differ from mongo-java-server's own H2 backend
 * ({@code databases.*}, {@code meta.*}, {@code <ns>._index_*}) so that a file in that older format
 * is recognised and migrated ({@link LegacyFormat}) rather than misread.
 */
final class MapNames {

  static final String DATA = "bson.data.";
  static final String META = "bson.meta.";
  static final String INDEX = "bson.index.";

  private MapNames() {}

  static String data(String fullCollectionName) {
    return DATA + fullCollectionName;
  }

  static String meta(String fullCollectionName) {
    return META + fullCollectionName;
  }

  static String index(String fullCollectionName, String indexName) {
    return INDEX + fullCollectionName + "._index_" + indexName;
  }

  /** The database a data map belongs to, or null for other maps. */
  static String databaseOfDataMap(String mapName) {
    if (!mapName.startsWith(DATA)) {
      return null;
    }
    String full = mapName.substring(DATA.length());
    int dot = full.indexOf('.');
    return dot < 0 ? full : full.substring(0, dot);
  }

  static boolean belongsTo(String mapName, String databaseName) {
    for (String prefix : new String[] {DATA, META, INDEX}) {
      if (mapName.startsWith(prefix + databaseName + ".")) {
        return true;
      }
    }
    return false;
  }
}
