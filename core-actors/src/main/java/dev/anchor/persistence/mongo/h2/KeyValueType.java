package dev.anchor.persistence.mongo.h2;

import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.bson.ObjectId;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.h2.mvstore.DataUtils;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;

/**
 * Index keys of the embedded store, typed. H2's default type knows nothing of {@link KeyValue}, so
 * it Java-serializes both keys on every comparison of a B-tree descent — the largest single cost of
 * an insert. Here the values an index key holds in practice (strings, numbers, booleans, object
 * ids) compare and store directly; anything else keeps the old behaviour (serialized bytes), under
 * its own tag so the order stays total.
 *
 * <p>The order: element by element, first by type tag, then by value within the type; a shorter key
 * before a longer one that starts with it. Values of different Java types never compare equal (as
 * before: {@code 1} and {@code 1L} were different keys).
 */
final class KeyValueType extends BasicDataType<KeyValue> {

  static final KeyValueType INSTANCE = new KeyValueType();

  private static final byte NULL = 0;
  private static final byte MISSING = 1;
  private static final byte FALSE = 2;
  private static final byte TRUE = 3;
  private static final byte INT = 4;
  private static final byte LONG = 5;
  private static final byte DOUBLE = 6;
  private static final byte STRING = 7;
  private static final byte OBJECT_ID = 8;
  private static final byte SERIALIZED = 9;

  private KeyValueType() {}

  @Override
  public int compare(KeyValue a, KeyValue b) {
    if (a == b) {
      return 0;
    }
    int n = Math.min(a.size(), b.size());
    for (int i = 0; i < n; i++) {
      int c = compareValues(a.get(i), b.get(i));
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(a.size(), b.size());
  }

  private static int compareValues(Object x, Object y) {
    byte tx = tag(x);
    byte ty = tag(y);
    if (tx != ty) {
      return Byte.compare(tx, ty);
    }
    return switch (tx) {
      case INT -> Integer.compare((Integer) x, (Integer) y);
      case LONG -> Long.compare((Long) x, (Long) y);
      case DOUBLE -> Double.compare((Double) x, (Double) y);
      case STRING -> ((String) x).compareTo((String) y);
      case OBJECT_ID -> ((ObjectId) x).compareTo((ObjectId) y);
      case SERIALIZED -> Arrays.compareUnsigned(serialize(x), serialize(y));
      default -> 0; // null, missing, false, true: the tag is the value
    };
  }

  private static byte tag(Object v) {
    if (v == null) {
      return NULL;
    }
    if (v instanceof Missing) {
      return MISSING;
    }
    if (v instanceof Boolean b) {
      return b ? TRUE : FALSE;
    }
    // exact classes only: a subclass (none exist for these) would need its own rules
    Class<?> c = v.getClass();
    if (c == String.class) {
      return STRING;
    }
    if (c == Integer.class) {
      return INT;
    }
    if (c == Long.class) {
      return LONG;
    }
    if (c == Double.class) {
      return DOUBLE;
    }
    if (c == ObjectId.class) {
      return OBJECT_ID;
    }
    return SERIALIZED;
  }

  @Override
  public int getMemory(KeyValue key) {
    int bytes = 48;
    for (Object v : key) {
      bytes += v instanceof String s ? 40 + 2 * s.length() : 24;
    }
    return bytes;
  }

  @Override
  public void write(WriteBuffer buff, KeyValue key) {
    buff.putVarInt(key.size());
    for (Object v : key) {
      byte tag = tag(v);
      buff.put(tag);
      switch (tag) {
        case INT -> buff.putInt((Integer) v);
        case LONG -> buff.putLong((Long) v);
        case DOUBLE -> buff.putDouble((Double) v);
        case STRING -> {
          String s = (String) v;
          buff.putVarInt(s.length()).putStringData(s, s.length());
        }
        case OBJECT_ID -> buff.put(((ObjectId) v).toByteArray());
        case SERIALIZED -> {
          byte[] bytes = serialize(v);
          buff.putVarInt(bytes.length).put(bytes);
        }
        default -> {}
      }
    }
  }

  @Override
  public KeyValue read(ByteBuffer buff) {
    int size = DataUtils.readVarInt(buff);
    List<Object> values = new ArrayList<>(size);
    for (int i = 0; i < size; i++) {
      byte tag = buff.get();
      values.add(
          switch (tag) {
            case NULL -> null;
            case MISSING -> Missing.getInstance();
            case FALSE -> Boolean.FALSE;
            case TRUE -> Boolean.TRUE;
            case INT -> buff.getInt();
            case LONG -> buff.getLong();
            case DOUBLE -> buff.getDouble();
            case STRING -> DataUtils.readString(buff);
            case OBJECT_ID -> {
              byte[] id = new byte[12];
              buff.get(id);
              yield new ObjectId(id);
            }
            case SERIALIZED -> {
              byte[] bytes = new byte[DataUtils.readVarInt(buff)];
              buff.get(bytes);
              yield deserialize(bytes);
            }
            default ->
                throw new IllegalStateException(
                    "unknown index key tag " + tag + " in the store file");
          });
    }
    return new KeyValue(values);
  }

  @Override
  public KeyValue[] createStorage(int size) {
    return new KeyValue[size];
  }

  private static byte[] serialize(Object v) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(v);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot serialize index key value " + v, e);
    }
    return bytes.toByteArray();
  }

  private static Object deserialize(byte[] bytes) {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
      return in.readObject();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read an index key value from the store file", e);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException("cannot read an index key value from the store file", e);
    }
  }
}
