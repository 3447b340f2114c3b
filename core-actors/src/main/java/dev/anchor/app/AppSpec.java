package dev.anchor.app;

import dev.anchor.CborSerializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a long-lived app is: the reference system's cluster body ({@code name}, {@code type}, {@code
 * config.port}, {@code config.ram}, {@code config.cpu}) plus its code — either {@code files}
 * (written into the app's working directory, {@code entry} run with Node.js, {@code dependencies}
 * installed through the native runtime's npm cache) or a {@code command} run through {@code /bin/sh
 * -c}. The app gets its port in {@code PORT}.
 *
 * @param port the port the app should listen on at its node (the node picks another when it is
 *     taken)
 * @param ramMb memory limit in MB (Node's heap cap, and a cgroup's memory.max where the node can
 *     make one)
 * @param cpu cores (cgroup cpu.max where available, else scheduler accounting only)
 * @param healthPath HTTP path probed on the app's port; 2xx–4xx counts as healthy
 * @param display whether the app gets a virtual X display (an Xvfb its node starts for it, in
 *     {@code DISPLAY})
 * @param displaySize that display's size, {@code WIDTHxHEIGHT} (null: {@link
 *     #DEFAULT_DISPLAY_SIZE})
 */
public record AppSpec(
    String name,
    String type,
    int port,
    long ramMb,
    double cpu,
    Map<String, String> files,
    String entry,
    List<String> dependencies,
    String command,
    String healthPath,
    boolean display,
    String displaySize)
    implements CborSerializable {

  public static final String DEFAULT_DISPLAY_SIZE = "1280x720";

  public static final String HELLO_ENTRY = "index.js";

  /**
   * The reference system's app: Express answering {@code <h1>Running on Anchor</h1>} on {@code /}.
   */
  public static final String HELLO_SOURCE =
      """
      const express = require('express');
      const app = express();
      app.get('/', (req, res) => res.send('<h1>Running on Anchor</h1>'));
      const port = Number(process.env.PORT || 8080);
      app.listen(port, () => console.log('listening on port ' + port));
      """;

  public AppSpec {
    // in the order given, also after the journal: Map.copyOf iterated in a hash order that changed
    // with the order keys were added, so a replayed spec listed its files differently
    files =
        files == null
            ? Map.of()
            : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(files));
    dependencies = dependencies == null ? List.of() : List.copyOf(dependencies);
    if (healthPath == null || healthPath.isBlank()) healthPath = "/";
    if (!display) displaySize = null;
    else if (displaySize == null || displaySize.isBlank()) displaySize = DEFAULT_DISPLAY_SIZE;
  }

  /** The same app without or with a display of {@code size} (null: the default size). */
  public AppSpec withDisplay(boolean display, String size) {
    return new AppSpec(
        name,
        type,
        port,
        ramMb,
        cpu,
        files,
        entry,
        dependencies,
        command,
        healthPath,
        display,
        size);
  }

  /** {@code [width, height]} of {@link #displaySize()}. */
  public int[] displayDimensions() {
    String[] p = (displaySize == null ? DEFAULT_DISPLAY_SIZE : displaySize).split("x");
    return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
  }

  /** The reference body's app: no source given. */
  public static AppSpec hello(
      String name, String type, int port, long ramMb, double cpu, String healthPath) {
    Map<String, String> files = new LinkedHashMap<>();
    files.put(HELLO_ENTRY, HELLO_SOURCE);
    files.put(
        "package.json",
        "{\"name\":\"anchor-web-app\",\"version\":\"1.0.0\",\"private\":true,"
            + "\"main\":\"index.js\",\"dependencies\":{\"express\":\"^4.19.2\"}}\n");
    return new AppSpec(
        name,
        type,
        port,
        ramMb,
        cpu,
        files,
        HELLO_ENTRY,
        List.of("express@^4.19.2"),
        null,
        healthPath,
        false,
        null);
  }

  public boolean usesCommand() {
    return command != null && !command.isBlank();
  }
}
