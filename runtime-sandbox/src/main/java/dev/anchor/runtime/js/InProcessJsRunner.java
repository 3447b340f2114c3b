package dev.anchor.runtime.js;

import dev.anchor.runtime.Outcome;

/** JS in the worker JVM: no memory cap, see {@link dev.anchor.runtime.JsIsolation#IN_PROCESS}. */
public final class InProcessJsRunner implements JsRunner {
    private final JsTaskExecutor executor;

    public InProcessJsRunner(int logCap) {
        this.executor = new JsTaskExecutor(2, logCap);
    }

    @Override
    public Outcome run(JsRequest request) {
        return executor.execute(request).toOutcome();
    }

    @Override
    public void cancel(String jobId) {
        executor.cancel(jobId);
    }

    public boolean compilationEnabled() {
        return executor.compilationEnabled();
    }

    @Override
    public void close() {
        executor.close();
    }
}
