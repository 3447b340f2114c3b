package dev.anchor.runtime.wasm;

import io.github.kawamuray.wasmtime.Extern;
import io.github.kawamuray.wasmtime.Func;
import io.github.kawamuray.wasmtime.FuncType;
import io.github.kawamuray.wasmtime.Memory;
import io.github.kawamuray.wasmtime.Store;
import io.github.kawamuray.wasmtime.Val;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * WASI {@code fd_read} for a task: fd 0 reads the task's input bytes, every other descriptor is
 * EBADF (the sandbox preopens nothing). Replaces wasmtime-java's stdin, see {@link
 * WasmModuleInfo#STDIN_MODULE}.
 */
final class StdinFdRead {
  private static final int ERRNO_SUCCESS = 0;
  private static final int ERRNO_BADF = 8;
  private static final int ERRNO_FAULT = 21;

  private final byte[] input;
  private int position;

  StdinFdRead(byte[] input) {
    this.input = input;
  }

  Func toFunc(Store<Void> store) {
    FuncType type =
        new FuncType(
            new Val.Type[] {Val.Type.I32, Val.Type.I32, Val.Type.I32, Val.Type.I32},
            new Val.Type[] {Val.Type.I32});
    return new Func(
        store,
        type,
        (caller, params, results) -> {
          results[0] =
              Val.fromI32(read(caller.getExport("memory").map(Extern::memory), store, params));
        });
  }

  private int read(Optional<Memory> memory, Store<Void> store, Val[] p) {
    int fd = p[0].i32(), iovs = p[1].i32(), iovsLen = p[2].i32(), nreadPtr = p[3].i32();
    if (fd != 0) return ERRNO_BADF;
    if (memory.isEmpty()) return ERRNO_FAULT;
    try {
      ByteBuffer mem = memory.get().buffer(store).order(ByteOrder.LITTLE_ENDIAN);
      int total = 0;
      for (int i = 0; i < iovsLen && position < input.length; i++) {
        int ptr = mem.getInt(iovs + 8 * i);
        int len = mem.getInt(iovs + 8 * i + 4);
        int n = Math.min(len, input.length - position);
        mem.put(ptr, input, position, n);
        position += n;
        total += n;
      }
      mem.putInt(nreadPtr, total);
      return ERRNO_SUCCESS;
    } catch (IndexOutOfBoundsException e) {
      return ERRNO_FAULT;
    }
  }
}
