package dev.anchor.runtime.wasm;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the sandbox needs to know about a module before wasmtime sees it (wasmtime-java 0.19 exposes
 * neither exports nor a store limiter): its imports, exported functions with their signatures, and
 * its memories. {@link #capped} re-encodes the module so that every memory and table has a maximum
 * within the task's cap; wasmtime then enforces it, making {@code memory.grow} return -1 past the
 * cap.
 */
final class WasmModuleInfo {
  static final int PAGE = 64 * 1024;

  /** Tables without a declared maximum get this one (elements; about 8 bytes each). */
  static final long TABLE_MAX_ELEMENTS = 1 << 20;

  static final String WASI_MODULE = "wasi_snapshot_preview1";

  /**
   * WASI's fd_read is imported from here instead: wasmtime-java 0.19 opens a WASI stdin file
   * write-only and truncates it (kawamuray/wasmtime-java#54), so the sandbox serves stdin itself
   * from the task's input.
   */
  static final String STDIN_MODULE = "anchor_stdin";

  /** A payload the sandbox refuses, with a message for the user. */
  static final class InvalidModuleException extends Exception {
    InvalidModuleException(String message) {
      super(message);
    }
  }

  enum ValType {
    I32,
    I64,
    F32,
    F64,
    OTHER
  }

  record FuncSig(List<ValType> params, List<ValType> results) {}

  record Import(String module, String name, int kind) {
    String describe() {
      return module
          + "."
          + name
          + " ("
          + switch (kind) {
            case 0 -> "function";
            case 1 -> "table";
            case 2 -> "memory";
            case 3 -> "global";
            default -> "kind " + kind;
          }
          + ")";
    }
  }

  final List<Import> imports = new ArrayList<>();
  final Map<String, FuncSig> exportedFunctions = new LinkedHashMap<>();
  final List<String> exportedMemories = new ArrayList<>();
  private final List<FuncSig> types = new ArrayList<>();
  private final List<Integer> functionTypes = new ArrayList<>();
  private byte[] cappedBytes;

  private WasmModuleInfo() {}

  static boolean looksLikeBinary(byte[] b) {
    return b != null && b.length >= 8 && b[0] == 0 && b[1] == 'a' && b[2] == 's' && b[3] == 'm';
  }

  /** Parses the module and re-encodes it with memories capped at {@code maxPages}. */
  static WasmModuleInfo parse(byte[] bytes, long maxPages) throws InvalidModuleException {
    if (!looksLikeBinary(bytes)) {
      throw new InvalidModuleException(
          "not a WebAssembly binary (no \\0asm header); send the module bytes, base64-encoded");
    }
    if (bytes[4] != 1 || bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0) {
      throw new InvalidModuleException("unsupported WebAssembly binary version");
    }
    WasmModuleInfo info = new WasmModuleInfo();
    try {
      info.read(bytes, maxPages);
    } catch (IndexOutOfBoundsException e) {
      throw new InvalidModuleException("truncated or malformed WebAssembly binary");
    }
    return info;
  }

  byte[] capped() {
    return cappedBytes;
  }

  private void read(byte[] b, long maxPages) throws InvalidModuleException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(b.length + 16);
    out.write(b, 0, 8);
    Reader r = new Reader(b, 8);
    List<Object[]> exports = new ArrayList<>();
    int importedFuncs = 0;
    while (r.pos < b.length) {
      int sectionStart = r.pos;
      int id = r.u8();
      int size = (int) r.u32();
      int contentStart = r.pos;
      int end = contentStart + size;
      if (end > b.length)
        throw new InvalidModuleException("section " + id + " runs past the end of the module");
      Reader s = new Reader(b, contentStart);
      switch (id) {
        case 1 -> {
          long n = s.u32();
          for (long i = 0; i < n; i++) {
            if (s.u8() != 0x60)
              throw new InvalidModuleException("unsupported type form in the type section");
            types.add(new FuncSig(s.valTypes(), s.valTypes()));
          }
        }
        case 2 -> {
          // Re-encoded so that WASI's fd_read can be served by the sandbox (see STDIN_MODULE).
          ByteArrayOutputStream sec = new ByteArrayOutputStream();
          long n = s.u32();
          writeU32(sec, n);
          for (long i = 0; i < n; i++) {
            String module = s.name(), name = s.name();
            int descStart = s.pos;
            int kind = s.u8();
            switch (kind) {
              case 0 -> {
                s.u32();
                importedFuncs++;
              }
              case 1 -> {
                s.u8();
                s.limits();
              }
              case 2 -> s.limits();
              case 3 -> {
                s.u8();
                s.u8();
              }
              default -> throw new InvalidModuleException("unsupported import kind " + kind);
            }
            imports.add(new Import(module, name, kind));
            boolean stdin = kind == 0 && WASI_MODULE.equals(module) && "fd_read".equals(name);
            writeName(sec, stdin ? STDIN_MODULE : module);
            writeName(sec, name);
            sec.write(b, descStart, s.pos - descStart);
          }
          writeSection(out, 2, sec.toByteArray());
          r.pos = end;
          continue;
        }
        case 3 -> {
          long n = s.u32();
          for (long i = 0; i < n; i++) functionTypes.add((int) s.u32());
        }
        case 4 -> {
          ByteArrayOutputStream sec = new ByteArrayOutputStream();
          long n = s.u32();
          writeU32(sec, n);
          for (long i = 0; i < n; i++) {
            sec.write(s.u8()); // reftype
            capLimits(s, sec, TABLE_MAX_ELEMENTS, "table", " elements");
          }
          writeSection(out, 4, sec.toByteArray());
          r.pos = end;
          continue;
        }
        case 5 -> {
          ByteArrayOutputStream sec = new ByteArrayOutputStream();
          long n = s.u32();
          writeU32(sec, n);
          for (long i = 0; i < n; i++) capLimits(s, sec, maxPages, "memory", " pages of 64 KiB");
          writeSection(out, 5, sec.toByteArray());
          r.pos = end;
          continue;
        }
        case 7 -> {
          long n = s.u32();
          for (long i = 0; i < n; i++) exports.add(new Object[] {s.name(), s.u8(), s.u32()});
        }
        default -> {
          // other sections are copied unchanged
        }
      }
      out.write(b, sectionStart, end - sectionStart);
      r.pos = end;
    }
    for (Object[] e : exports) {
      String name = (String) e[0];
      int kind = (Integer) e[1];
      long index = (Long) e[2];
      if (kind == 0) {
        long local = index - importedFuncs;
        FuncSig sig = null;
        if (local >= 0
            && local < functionTypes.size()
            && functionTypes.get((int) local) < types.size()) {
          sig = types.get(functionTypes.get((int) local));
        }
        exportedFunctions.put(name, sig);
      } else if (kind == 2) {
        exportedMemories.add(name);
      }
    }
    cappedBytes = out.toByteArray();
  }

  /** Copies one limits entry, adding or checking its maximum against {@code cap}. */
  private static void capLimits(
      Reader s, ByteArrayOutputStream sec, long cap, String what, String unit)
      throws InvalidModuleException {
    int flags = s.u8();
    if (flags != 0 && flags != 1) {
      throw new InvalidModuleException("shared or 64-bit " + what + "s are not supported");
    }
    long min = s.u32();
    long max = flags == 1 ? s.u32() : cap;
    if (min > cap) {
      throw new InvalidModuleException(
          what + " needs at least " + min + unit + ", above the cap of " + cap);
    }
    if (max > cap) {
      throw new InvalidModuleException(
          what
              + " declares a maximum of "
              + max
              + unit
              + ", above the cap of "
              + cap
              + " (raise the task's memoryMb or lower the module's maximum)");
    }
    sec.write(1);
    writeU32(sec, min);
    writeU32(sec, max);
  }

  private static void writeSection(ByteArrayOutputStream out, int id, byte[] content) {
    out.write(id);
    writeU32(out, content.length);
    out.write(content, 0, content.length);
  }

  private static void writeName(ByteArrayOutputStream out, String name) {
    byte[] b = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    writeU32(out, b.length);
    out.write(b, 0, b.length);
  }

  private static void writeU32(ByteArrayOutputStream out, long v) {
    do {
      int b = (int) (v & 0x7f);
      v >>>= 7;
      out.write(v != 0 ? b | 0x80 : b);
    } while (v != 0);
  }

  private static final class Reader {
    final byte[] b;
    int pos;

    Reader(byte[] b, int pos) {
      this.b = b;
      this.pos = pos;
    }

    int u8() {
      return b[pos++] & 0xff;
    }

    long u32() throws InvalidModuleException {
      long result = 0;
      for (int shift = 0; shift < 35; shift += 7) {
        int x = u8();
        result |= (long) (x & 0x7f) << shift;
        if ((x & 0x80) == 0) return result;
      }
      throw new InvalidModuleException("malformed LEB128 integer");
    }

    String name() throws InvalidModuleException {
      int n = (int) u32();
      String s = new String(b, pos, n, java.nio.charset.StandardCharsets.UTF_8);
      pos += n;
      return s;
    }

    void limits() throws InvalidModuleException {
      int flags = u8();
      u32();
      if ((flags & 1) != 0) u32();
    }

    List<ValType> valTypes() throws InvalidModuleException {
      long n = u32();
      List<ValType> list = new ArrayList<>();
      for (long i = 0; i < n; i++) {
        list.add(
            switch (u8()) {
              case 0x7f -> ValType.I32;
              case 0x7e -> ValType.I64;
              case 0x7d -> ValType.F32;
              case 0x7c -> ValType.F64;
              default -> ValType.OTHER;
            });
      }
      return list;
    }
  }
}
