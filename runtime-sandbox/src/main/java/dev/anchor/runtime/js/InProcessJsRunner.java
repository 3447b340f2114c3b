package dev.anchor.runtime.js;

import dev.anchor.runtime.Outcome;

/** JS in the worker JVM: no memory cap, see {@link dev.anchor.runtime.JsIsolation#IN_PROCESS}. */
public final class InProcessJsRunner implements JsRunner {
  private final JsTaskExecutor executor;
  private final java.util.concurrent.CountDownLatch warm =
      new java.util.concurrent.CountDownLatch(1);

  public InProcessJsRunner(int logCap, boolean warmup) {
    this.executor = new JsTaskExecutor(2, logCap);
    if (warmup) {
      Thread t =
          new Thread(
              () -> {
                try {
                  executor.warmUp(30_000);
                } finally {
                  warm.countDown();
                }
              },
              "js-warm-up");
      t.setDaemon(true);
      t.setPriority(Thread.MIN_PRIORITY);
      t.start();
    } else {
      warm.countDown();
    }
  }

  /** Waits for the background warm-up; false on timeout. */
  public boolean awaitWarm(long timeoutMs) throws InterruptedException {
    return warm.await(timeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS);
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
