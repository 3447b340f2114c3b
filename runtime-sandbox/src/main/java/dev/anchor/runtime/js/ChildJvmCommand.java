package dev.anchor.runtime.js;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Builds the command line of a JS child JVM so that GraalJS is JIT-compiled in it: the
 * Graal/Truffle jars on the module path and the Graal compiler jar on the upgrade module path with
 * JVMCI enabled.
 *
 * <p>Where the jars come from, first match wins:
 *
 * <ul>
 *   <li>module path: system property {@code anchor.sandbox.modulePath}; else the worker's own
 *       module path ({@code jdk.module.path}, set by {@code --module-path}; its Graal jars only);
 *       else the Graal jars found on the worker's class path;
 *   <li>compiler jar: system property {@code anchor.sandbox.compilerJar}; else the worker's upgrade
 *       module path ({@code jdk.module.upgrade.path}); else a {@code compiler-*.jar} found on the
 *       module or class path. Without one the child still works, interpreted (about 10x slower).
 * </ul>
 */
public final class ChildJvmCommand {
  private static final Pattern GRAAL_JAR =
      Pattern.compile(
          "(polyglot|truffle-[a-z-]+|js-language|regex|icu4j|collections|word|nativeimage|jniutils|xz)-\\d[^/]*\\.jar");
  private static final Pattern COMPILER_JAR = Pattern.compile("compiler-\\d[^/]*\\.jar");

  private final Path java;
  private final List<String> modulePath;
  private final String compilerJar;
  private final String classPath;

  private ChildJvmCommand(
      Path java, List<String> modulePath, String compilerJar, String classPath) {
    this.java = java;
    this.modulePath = modulePath;
    this.compilerJar = compilerJar;
    this.classPath = classPath;
  }

  public static ChildJvmCommand detect() {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> classPathEntries = split(System.getProperty("java.class.path", ""));
    List<String> parentModulePath = split(System.getProperty("jdk.module.path", ""));

    List<String> modulePath;
    String explicit = System.getProperty("anchor.sandbox.modulePath");
    if (explicit != null && !explicit.isBlank()) {
      modulePath = expandDirs(split(explicit));
    } else if (!parentModulePath.isEmpty()) {
      // Only the Graal jars: anything else on the worker's module path is of no use to a child and
      // could clash.
      modulePath =
          expandDirs(parentModulePath).stream()
              .filter(e -> GRAAL_JAR.matcher(fileName(e)).matches())
              .toList();
    } else {
      modulePath =
          classPathEntries.stream().filter(e -> GRAAL_JAR.matcher(fileName(e)).matches()).toList();
    }
    modulePath =
        modulePath.stream().filter(e -> !COMPILER_JAR.matcher(fileName(e)).matches()).toList();

    String compiler = System.getProperty("anchor.sandbox.compilerJar");
    if (compiler == null || compiler.isBlank())
      compiler = System.getProperty("jdk.module.upgrade.path");
    if (compiler == null || compiler.isBlank()) {
      List<String> all = new ArrayList<>(expandDirs(parentModulePath));
      all.addAll(classPathEntries);
      compiler =
          all.stream()
              .filter(e -> COMPILER_JAR.matcher(fileName(e)).matches())
              .findFirst()
              .orElse(null);
    }
    if (compiler != null && !Files.exists(Path.of(compiler.split(File.pathSeparator)[0])))
      compiler = null;
    return new ChildJvmCommand(java, modulePath, compiler, ownCodeLocation());
  }

  public boolean hasCompiler() {
    return compilerJar != null;
  }

  public List<String> command(long heapMb, int logCap, boolean warmup) {
    List<String> cmd = new ArrayList<>();
    cmd.add(java.toString());
    cmd.add("-Xmx" + heapMb + "m");
    cmd.add("-Xss4m");
    // Serial GC: smallest footprint per child, and a tenured pool that reports collection-usage
    // thresholds.
    cmd.add("-XX:+UseSerialGC");
    // An OutOfMemoryError anywhere ends the child at once; the worker reports MEMORY_LIMIT and
    // starts a fresh one.
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    cmd.add("-XX:-UsePerfData");
    cmd.add("-Xshare:auto");
    if (compilerJar != null) {
      cmd.add("-XX:+UnlockExperimentalVMOptions");
      cmd.add("-XX:+EnableJVMCI");
      cmd.add("--upgrade-module-path=" + compilerJar);
    }
    if (!modulePath.isEmpty()) {
      cmd.add("--module-path=" + String.join(File.pathSeparator, modulePath));
      cmd.add("--add-modules=org.graalvm.polyglot");
      cmd.add("--enable-native-access=org.graalvm.truffle");
    }
    cmd.add("--sun-misc-unsafe-memory-access=allow");
    cmd.add("-Dpolyglot.engine.WarnInterpreterOnly=false");
    cmd.add("-Danchor.js.logCap=" + logCap);
    cmd.add("-Danchor.js.warmup=" + warmup);
    cmd.add("-cp");
    cmd.add(classPath);
    cmd.add(JsChildMain.class.getName());
    return cmd;
  }

  @Override
  public String toString() {
    return "ChildJvmCommand[java="
        + java
        + ", modulePath="
        + modulePath.size()
        + " jars, compilerJar="
        + compilerJar
        + ", classPath="
        + classPath
        + "]";
  }

  private static String ownCodeLocation() {
    try {
      return Path.of(JsChildMain.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .toString();
    } catch (URISyntaxException | RuntimeException e) {
      return System.getProperty("java.class.path");
    }
  }

  private static List<String> split(String path) {
    return Arrays.stream(path.split(File.pathSeparator)).filter(s -> !s.isBlank()).toList();
  }

  /**
   * Module path entries may be directories of jars; the child gets the jars themselves,
   * deduplicated.
   */
  private static List<String> expandDirs(List<String> entries) {
    Set<String> out = new LinkedHashSet<>();
    for (String e : entries) {
      Path p = Path.of(e);
      if (Files.isDirectory(p)) {
        try (var s = Files.list(p)) {
          s.map(Path::toString).filter(f -> f.endsWith(".jar")).sorted().forEach(out::add);
        } catch (Exception ignored) {
          // unreadable directory: skip it
        }
      } else {
        out.add(e);
      }
    }
    return List.copyOf(out);
  }

  private static String fileName(String entry) {
    return Path.of(entry).getFileName().toString();
  }
}
