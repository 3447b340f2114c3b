package dev.anchor.runtime.js;

import dev.anchor.runtime.FailureKind;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Entry point of a JS child JVM: reads tasks from stdin, runs them one at a time, answers on
 * stdout. Started by {@link JsChildPool} with its own -Xmx, so an allocation bomb can only take
 * this process down.
 */
public final class JsChildMain {
  /**
   * Stack of the thread that runs tasks. Deep enough for real recursion (tens of thousands of JS
   * frames), small enough that runaway recursion overflows quickly: with a very deep stack of
   * compiled frames, overflowing and unwinding took longer than the task's deadline.
   */
  private static final long TASK_STACK_BYTES = 8L << 20;

  private JsChildMain() {}

  public static void main(String[] args) throws Exception {
    // The protocol owns the real stdout; stray prints from any library must not corrupt it.
    DataOutputStream out =
        new DataOutputStream(
            new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
    System.setOut(System.err);
    DataInputStream in =
        new DataInputStream(
            new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16));

    int logCap = Integer.getInteger("anchor.js.logCap", 1 << 20);
    boolean warm = Boolean.parseBoolean(System.getProperty("anchor.js.warmup", "true"));
    JsTaskExecutor executor = new JsTaskExecutor(2, logCap);
    long warmMs = warm ? executor.warmUp(Long.getLong("anchor.js.warmupBudgetMs", 30_000)) : 0;
    HeapWatch heap = new HeapWatch(executor);
    BlockingQueue<JsRequest> queue = new LinkedBlockingQueue<>();
    Set<String> earlyCancels = ConcurrentHashMap.newKeySet();

    Thread reader =
        new Thread(
            () -> {
              try {
                while (true) {
                  switch (JsWire.read(in)) {
                    case JsWire.Run run -> queue.put(run.request());
                    case JsWire.Cancel c -> {
                      if (!executor.cancel(c.jobId())) earlyCancels.add(c.jobId());
                    }
                    default -> throw new IOException("unexpected frame from parent");
                  }
                }
              } catch (EOFException e) {
                // The worker closed our stdin: it is shutting down or gone.
              } catch (Exception e) {
                System.err.println("js child: protocol error: " + e);
              }
              Runtime.getRuntime().halt(0);
            },
            "js-child-reader");
    reader.setDaemon(true);
    reader.start();

    Thread tasks =
        new Thread(
            null,
            () -> {
              try {
                while (true) {
                  JsRequest req = queue.take();
                  JsReply reply;
                  if (earlyCancels.remove(req.jobId())) {
                    reply =
                        JsReply.failure(
                            req.jobId(), FailureKind.CANCELLED, "task was cancelled", -1, "", 0);
                  } else {
                    heap.arm(req.memoryMb());
                    reply = executor.execute(req);
                    heap.disarm();
                    if (reply.failure() == null) {
                      reply =
                          new JsReply(
                              reply.jobId(),
                              null,
                              reply.resultJson(),
                              null,
                              -1,
                              reply.logs(),
                              reply.durationMs(),
                              heap.peakGrowthBytes());
                    }
                  }
                  JsWire.writeDone(out, reply);
                }
              } catch (Throwable t) {
                System.err.println("js child: task loop failed: " + t);
                Runtime.getRuntime().halt(70);
              }
            },
            "js-task",
            TASK_STACK_BYTES);
    JsWire.writeReady(out, warmMs, executor.compilationEnabled());
    tasks.start();
    tasks.join();
  }
}
