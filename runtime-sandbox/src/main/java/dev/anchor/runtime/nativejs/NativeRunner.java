package dev.anchor.runtime.nativejs;

import dev.anchor.runtime.FailureKind;
import dev.anchor.runtime.Job;
import dev.anchor.runtime.Outcome;
import dev.anchor.runtime.SandboxConfig;

public final class NativeRunner implements AutoCloseable {
    public static NativeRunner probe(SandboxConfig config) {
        return null;
    }

    public Outcome run(Job job, long timeoutMs) {
        return new Outcome.Failure(FailureKind.REFUSED, "todo", null, "", 0);
    }

    public void cancel(String jobId) {
    }

    @Override
    public void close() {
    }
}
