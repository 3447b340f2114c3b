package dev.anchor.it;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The README's examples run verbatim: every fenced block opened with {@code ```sh run} is extracted
 * and run, in the README's order, in one bash session (so a variable one block sets is there for
 * the next, as in a terminal) from the repository's root against a fresh standalone started through
 * {@code ./anchor standalone}. The session runs with {@code set -e -o pipefail}: a failing command
 * fails its block. Each block's output must contain what its info string expects ({@code
 * expect=TEXT} or {@code expect="TEXT WITH SPACES"}, any number). The only change made to a block
 * is the port: {@code localhost:5000} becomes the test node's port (the launcher's client reads
 * {@code ANCHOR_PORT} itself), so the test does not need port 5000 free. Shell blocks that are not
 * run (they start servers or need several nodes) must still hold no "…" placeholder.
 */
@org.junit.jupiter.api.Timeout(value = 15, unit = TimeUnit.MINUTES)
class ReadmeIT {
  static final Pattern RUN = Pattern.compile("^(\\s*)```sh run(.*)$");
  static final Pattern EXPECT = Pattern.compile("expect=(?:\"([^\"]*)\"|(\\S+))");

  record Block(int line, String info, String body, List<String> expect) {}

  @RegisterExtension
  final AnchorCluster standalone = AnchorCluster.standalone().env("ANCHOR_JS_WORKERS", "1");

  static List<Block> runnableBlocks(List<String> lines) {
    List<Block> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = RUN.matcher(lines.get(i));
      if (!m.matches()) continue;
      int indent = m.group(1).length();
      int start = i + 1;
      StringBuilder body = new StringBuilder();
      for (i = start; !lines.get(i).strip().startsWith("```"); i++) {
        String l = lines.get(i);
        body.append(
                l.length() >= indent && l.substring(0, indent).isBlank() ? l.substring(indent) : l)
            .append('\n');
      }
      List<String> expect = new ArrayList<>();
      Matcher e = EXPECT.matcher(m.group(2));
      while (e.find()) expect.add(e.group(1) != null ? e.group(1) : e.group(2));
      out.add(new Block(start, m.group(2).strip(), body.toString(), expect));
    }
    return out;
  }

  @Test
  void everyRunnableExampleRunsVerbatimOnAFreshStandalone() throws Exception {
    List<String> readme = Files.readAllLines(AnchorProcess.HOME.resolve("README.md"));
    List<Block> blocks = runnableBlocks(readme);
    assertTrue(blocks.size() >= 10, "the README marks its examples to run: " + blocks.size());
    assertNoPlaceholders(readme);

    AnchorProcess node = standalone.node();
    Path dir = Files.createDirectories(standalone.dir().resolve("readme"));
    StringBuilder session =
        new StringBuilder("set -eo pipefail\ncd '" + AnchorProcess.HOME + "'\n");
    for (int i = 0; i < blocks.size(); i++) {
      String body =
          blocks
              .get(i)
              .body()
              .replace("localhost:5000", "localhost:" + node.httpPort)
              .replace("127.0.0.1:5000", "127.0.0.1:" + node.httpPort);
      Files.writeString(dir.resolve("block" + i + ".sh"), body);
      session
          .append("source '")
          .append(dir.resolve("block" + i + ".sh"))
          .append("' > '")
          .append(dir.resolve("out" + i))
          .append("' 2>&1\n")
          .append("echo '== ok ")
          .append(i)
          .append(" =='\n");
    }
    session.append("echo 'all blocks ran'\n");
    Files.writeString(dir.resolve("session.sh"), session);

    ProcessBuilder pb =
        new ProcessBuilder("bash", dir.resolve("session.sh").toString())
            .directory(AnchorProcess.HOME.toFile())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("session.log").toFile());
    // the environment of the user's second terminal: the launcher's client and ./anchor token find
    // the node
    // through these, as they find a standalone started with the defaults
    pb.environment().put("ANCHOR_SKIP_BUILD", "1");
    pb.environment().put("ANCHOR_PORT", Integer.toString(node.httpPort));
    pb.environment().put("ANCHOR_DATA_DIR", node.dataDir.toString());
    pb.environment().put("ANCHOR_JWT_SECRET", AnchorProcess.SECRET);
    pb.environment().remove("ANCHOR_TOKEN");
    pb.environment().remove("ANCHOR_SERVER");
    Process session0 = pb.start();
    try {
      assertTrue(session0.waitFor(12, TimeUnit.MINUTES), "the README's examples ended");
    } finally {
      if (session0.isAlive()) {
        session0.descendants().forEach(ProcessHandle::destroyForcibly);
        session0.destroyForcibly();
      }
    }
    String log = Files.readString(dir.resolve("session.log"));
    for (int i = 0; i < blocks.size(); i++) {
      Block b = blocks.get(i);
      Path out = dir.resolve("out" + i);
      String output = Files.exists(out) ? Files.readString(out) : "(not run)";
      assertTrue(
          log.contains("== ok " + i + " =="),
          "README line "
              + b.line()
              + " failed (exit status "
              + session0.exitValue()
              + "):\n"
              + b.body()
              + "\n--- its output:\n"
              + output
              + "\n--- node log:\n"
              + tail(node.output()));
      for (String e : b.expect()) {
        assertTrue(
            output.contains(e),
            "README line "
                + b.line()
                + " should print '"
                + e
                + "':\n"
                + b.body()
                + "\n--- its output:\n"
                + output);
      }
    }
  }

  /**
   * Shell and JSON blocks hold runnable text: no "…" standing for something the reader must fill
   * in.
   */
  static void assertNoPlaceholders(List<String> readme) {
    boolean in = false;
    String kind = "";
    for (int i = 0; i < readme.size(); i++) {
      String l = readme.get(i).strip();
      if (l.startsWith("```")) {
        in = !in;
        kind = in ? l.substring(3) : "";
        continue;
      }
      if (in && (kind.startsWith("sh") || kind.startsWith("bash") || kind.startsWith("json"))) {
        assertFalse(l.contains("…"), "README line " + (i + 1) + " has a placeholder: " + l);
      }
    }
  }

  private static String tail(String s) {
    return s.length() <= 4000 ? s : s.substring(s.length() - 4000);
  }
}
