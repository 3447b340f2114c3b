package dev.anchor.runtime.wasm;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Job;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.SandboxConfig;

public final class WasmRunner implements AutoCloseable {
    public WasmRunner(SandboxConfig config) {
    }

    public Outcome run(Job job, long timeoutMs, long memoryMb) {
        return new Outcome.Failure(FailureKind.REFUSED, "todo", null, "", 0);
    }

    public void cancel(String jobId) {
    }

    @Override
    public void close() {
    }
}
