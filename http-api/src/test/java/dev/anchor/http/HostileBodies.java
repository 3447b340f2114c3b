package dev.anchor.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ArbitrarySupplier;
import net.jqwik.api.Combinators;

/**
 * Hostile request bodies for the fuzz tests ({@link RequestFuzzTest} in-process, {@code
 * HostileInputIT} over the wire): a valid body of a route family, mutated at random places into
 * wrong types, huge and negative numbers, long strings, deep nesting, strings JSON can spell but
 * the journal's encodings cannot hold (unpaired surrogates) or that other layers choke on (NUL,
 * control characters), unknown fields, duplicate keys, and raw text damage.
 *
 * <p>A property takes them per route family as {@code @ForAll(supplier = HostileBodies.Tasks.class)
 * String body}.
 */
public final class HostileBodies {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Valid bodies per route family; the mutations start from these. */
  public static final List<String> TASKS =
      List.of(
          "{\"name\":\"t\",\"payload\":{\"runtime\":\"js\",\"sourceCode\":\"input.n * 2\"},\"input\":{\"n\":21}}",
          "{\"name\":\"w\",\"payload\":{\"runtime\":\"wasm\",\"entry\":\"add\",\"args\":[2,3],"
              + "\"wasm\":\"AGFzbQEAAAABBwFgAn9/AX8DAgEABwcBA2FkZAAACgkBBwAgACABags=\"}}",
          "{\"name\":\"v\",\"type\":\"compute\",\"payload\":{\"sourceCode\":\"1\",\"dependencies\":[\"lodash\"]},"
              + "\"requirements\":{\"minRam\":0.5,\"gpuRequired\":false},\"timeoutMs\":5000,"
              + "\"retries\":{\"attempts\":2,\"backoffMs\":100,\"retryUserErrors\":true},\"priority\":3,"
              + "\"verification\":{\"replicas\":2,\"quorum\":2,\"maxReplicas\":3,\"policy\":\"fixed\"}}");

  public static final List<String> BULK =
      List.of(
          "{\"tasks\":[" + TASKS.get(0) + "," + TASKS.get(1) + "]}",
          "{\"tasks\":[" + TASKS.get(2) + "]}");
  public static final List<String> DAGS =
      List.of(
          "{\"name\":\"d\",\"tasks\":[{\"id\":\"a\",\"payload\":{\"sourceCode\":\"1\"}},"
              + "{\"id\":\"b\",\"dependencies\":[\"a\"],\"payload\":{\"sourceCode\":\"input\"}}],\"failurePolicy\":\"failFast\",\"maxParallel\":2}",
          "{\"tasks\":[{\"id\":\"fetch\",\"type\":\"script\",\"dependencies\":[]},"
              + "{\"id\":\"p\",\"type\":\"parallel\",\"dependencies\":[\"fetch\"]}]}");
  public static final List<String> MAPREDUCE =
      List.of(
          "{\"name\":\"mr\",\"input\":[1,2,3,4],\"partitions\":2,\"map\":{\"sourceCode\":\"input.map(x => x * 2)\"},"
              + "\"reduce\":{\"sourceCode\":\"input.flat().reduce((a, b) => a + b, 0)\"}}");
  public static final List<String> APPS =
      List.of(
          "{\"name\":\"web\",\"type\":\"Web\",\"config\":{\"port\":8080,\"ram\":\"256MB\",\"cpu\":0.5,\"healthPath\":\"/\"},"
              + "\"source\":{\"files\":{\"server.js\":\"require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)\"},"
              + "\"entry\":\"server.js\"}}",
          "{\"name\":\"cmd\",\"command\":\"python3 -m http.server $PORT\",\"config\":{\"port\":9000}}");
  public static final List<String> SESSION = List.of("{\"token\":\"abc.def.ghi\"}");

  private HostileBodies() {}

  /** Raw JSON fragments that are hostile as any value. */
  static final List<String> HOSTILE_VALUES =
      List.of(
          "null",
          "true",
          "false",
          "0",
          "-1",
          "-0",
          "1.5",
          "-1.5e3",
          "2147483648",
          "-2147483649",
          "9223372036854775808",
          "-9223372036854775809",
          "123456789012345678901234567890123456789",
          "1e400",
          "-1e400",
          "1e-400",
          "0.1e1",
          "\"\"",
          "\" \"",
          "\"0\"",
          "\"-1\"",
          "\"true\"",
          "\"\\u0000\"",
          "\"a\\u0000b\"",
          "\"\\ud800\"",
          "\"x\\udc00y\"",
          "\"\\ud83d\\ude00\"",
          "\"\\u202e\\u0007\\u001b[31m\"",
          "\"../../etc/passwd\"",
          "\"$where\"",
          "\"a.b\"",
          "[]",
          "{}",
          "[null]",
          "[1,\"a\",{}]",
          "{\"$gt\":\"\"}",
          "{\"\\u0000\":1}",
          "{\"a.b\":{\"$x\":1}}");

  /** Mutated task submits (POST /api/tasks). */
  public static final class Tasks implements ArbitrarySupplier<String> {
    @Override
    public Arbitrary<String> get() {
      return of(TASKS);
    }
  }

  /** Mutated bulk submits (POST /api/tasks/bulk). */
  public static final class Bulk implements ArbitrarySupplier<String> {
    @Override
    public Arbitrary<String> get() {
      return of(BULK);
    }
  }

  /** Mutated DAGs (POST /api/dag/schedule). */
  public static final class Dags implements ArbitrarySupplier<String> {
    @Override
    public Arbitrary<String> get() {
      return of(DAGS);
    }
  }

  /** Mutated map-reduce jobs (POST /api/mapreduce). */
  public static final class MapReduces implements ArbitrarySupplier<String> {
    @Override
    public Arbitrary<String> get() {
      return of(MAPREDUCE);
    }
  }

  /** Mutated apps (POST /api/clusters). */
  public static final class Apps implements ArbitrarySupplier<String> {
    @Override
    public Arbitrary<String> get() {
      return of(APPS);
    }
  }

  /** Mutated sign-ins (POST /api/session). */
  public static final class Sessions implements ArbitrarySupplier<String> {
    @Override
    public Arbitrary<String> get() {
      return of(SESSION);
    }
  }

  public static Arbitrary<String> of(List<String> seeds) {
    return Combinators.combine(
            Arbitraries.of(seeds), Arbitraries.longs(), Arbitraries.integers().between(1, 4))
        .as((seed, salt, n) -> mutate(seed, new Random(salt), n));
  }

  /** A seed with {@code n} mutations, chosen by {@code random}. */
  static String mutate(String seed, Random random, int n) {
    JsonNode tree;
    try {
      tree = JSON.readTree(seed);
    } catch (Exception e) {
      throw new IllegalArgumentException(seed, e);
    }
    String text = null;
    for (int i = 0; i < n; i++) {
      int kind = random.nextInt(10);
      if (kind < 5) {
        replaceValue(tree, random, hostileValue(random));
      } else if (kind == 5) {
        addUnknownField(tree, random);
      } else if (kind == 6) {
        removeField(tree, random);
      } else if (kind == 7) {
        replaceValue(tree, random, bigValue(random));
      } else {
        text = textDamage(write(tree), random);
        break;
      }
    }
    return text != null ? text : write(tree);
  }

  private static String write(JsonNode tree) {
    try {
      return JSON.writeValueAsString(tree);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static RawValue hostileValue(Random random) {
    return new RawValue(HOSTILE_VALUES.get(random.nextInt(HOSTILE_VALUES.size())));
  }

  /** Long strings and arrays, and nesting deeper than any parser should follow. */
  private static RawValue bigValue(Random random) {
    return switch (random.nextInt(5)) {
      case 0 -> new RawValue("\"" + "x".repeat(70_000 + random.nextInt(10_000)) + "\"");
      case 1 -> new RawValue("[" + "1,".repeat(5_000) + "1]");
      case 2 -> new RawValue("[".repeat(1_200) + "]".repeat(1_200));
      case 3 -> new RawValue("{\"a\":".repeat(300) + "1" + "}".repeat(300));
      default -> new RawValue("\"" + "\\ud800".repeat(1 + random.nextInt(3)) + "\"");
    };
  }

  /** Containers of the tree, each as (parent, key or index). */
  private static List<Object[]> slots(JsonNode tree) {
    List<Object[]> out = new ArrayList<>();
    collect(tree, out);
    return out;
  }

  private static void collect(JsonNode n, List<Object[]> out) {
    if (n instanceof ObjectNode o) {
      for (var it = o.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        out.add(new Object[] {o, k});
        collect(o.get(k), out);
      }
    } else if (n instanceof ArrayNode a) {
      for (int i = 0; i < a.size(); i++) {
        out.add(new Object[] {a, i});
        collect(a.get(i), out);
      }
    }
  }

  private static void replaceValue(JsonNode tree, Random random, RawValue value) {
    List<Object[]> slots = slots(tree);
    if (slots.isEmpty()) return;
    Object[] s = slots.get(random.nextInt(slots.size()));
    if (s[0] instanceof ObjectNode o) o.putRawValue((String) s[1], value);
    else ((ArrayNode) s[0]).set((Integer) s[1], JSON.getNodeFactory().rawValueNode(value));
  }

  private static void addUnknownField(JsonNode tree, Random random) {
    List<ObjectNode> objects = new ArrayList<>();
    if (tree instanceof ObjectNode o) objects.add(o);
    for (Object[] s : slots(tree)) {
      JsonNode child =
          s[0] instanceof ObjectNode o
              ? o.get((String) s[1])
              : ((ArrayNode) s[0]).get((Integer) s[1]);
      if (child instanceof ObjectNode o) objects.add(o);
    }
    String key =
        List.of("unknown", "__proto__", "constructor", "$set", "", "a\u0000b", "\u00e9t\u00e9")
            .get(random.nextInt(7));
    objects.get(random.nextInt(objects.size())).putRawValue(key, hostileValue(random));
  }

  private static void removeField(JsonNode tree, Random random) {
    List<Object[]> slots = slots(tree);
    if (slots.isEmpty()) return;
    Object[] s = slots.get(random.nextInt(slots.size()));
    if (s[0] instanceof ObjectNode o) o.remove((String) s[1]);
    else ((ArrayNode) s[0]).remove((int) (Integer) s[1]);
  }

  /**
   * Damage to the text itself: truncated, a duplicated key, a stray character, trailing garbage,
   * not an object.
   */
  private static String textDamage(String text, Random random) {
    return switch (random.nextInt(7)) {
      case 0 -> text.substring(0, random.nextInt(Math.max(1, text.length())));
      case 1 -> {
        int colon = text.indexOf("\":");
        int start = colon < 0 ? -1 : text.lastIndexOf('"', colon - 1);
        yield start < 1 ? text : "{" + text.substring(start, colon + 2) + "1," + text.substring(1);
      }
      case 2 -> {
        int at = random.nextInt(text.length());
        yield text.substring(0, at)
            + "\"{}[],:\\\u0000".charAt(random.nextInt(9))
            + text.substring(at);
      }
      case 3 -> text + List.of("}", " x", "{}", "\n[]").get(random.nextInt(4));
      case 4 ->
          List.of("[" + text + "]", "\"" + text.replace("\"", "'") + "\"", "42", "null", "")
              .get(random.nextInt(5));
      case 5 -> text.replace(":", ": /* */");
      default -> "\uFEFF" + text;
    };
  }
}
