package dev.anchor.runtime.js;

import dev.anchor.runtime.FailureKind;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Framing between the worker and a JS child JVM over the child's stdin/stdout. Binary and
 * length-prefixed so that sources and results of any size and content pass unchanged.
 */
final class JsWire {
  static final byte READY = 'Y';
  static final byte RUN = 'R';
  static final byte CANCEL = 'C';
  static final byte DONE = 'D';

  sealed interface Frame permits Ready, Run, Cancel, Done {}

  record Ready(long warmupMs, boolean compilationEnabled) implements Frame {}

  record Run(JsRequest request) implements Frame {}

  record Cancel(String jobId) implements Frame {}

  record Done(JsReply reply) implements Frame {}

  private JsWire() {}

  static void writeReady(DataOutputStream out, long warmupMs, boolean compilationEnabled)
      throws IOException {
    synchronized (out) {
      out.writeByte(READY);
      out.writeLong(warmupMs);
      out.writeBoolean(compilationEnabled);
      out.flush();
    }
  }

  static void writeRun(DataOutputStream out, JsRequest r) throws IOException {
    synchronized (out) {
      out.writeByte(RUN);
      writeString(out, r.jobId());
      writeString(out, r.source());
      writeString(out, r.inputJson());
      out.writeLong(r.timeoutMs());
      out.writeLong(r.memoryMb());
      out.writeInt(r.logCap());
      out.writeInt(r.resultCap());
      out.flush();
    }
  }

  static void writeCancel(DataOutputStream out, String jobId) throws IOException {
    synchronized (out) {
      out.writeByte(CANCEL);
      writeString(out, jobId);
      out.flush();
    }
  }

  static void writeDone(DataOutputStream out, JsReply r) throws IOException {
    synchronized (out) {
      out.writeByte(DONE);
      writeString(out, r.jobId());
      out.writeByte(r.failure() == null ? -1 : r.failure().ordinal());
      writeString(out, r.resultJson());
      writeString(out, r.message());
      out.writeInt(r.line());
      writeString(out, r.logs());
      out.writeLong(r.durationMs());
      out.writeLong(r.memoryBytes());
      out.flush();
    }
  }

  static Frame read(DataInputStream in) throws IOException {
    byte type = in.readByte();
    return switch (type) {
      case READY -> new Ready(in.readLong(), in.readBoolean());
      case RUN ->
          new Run(
              new JsRequest(
                  readString(in),
                  readString(in),
                  readString(in),
                  in.readLong(),
                  in.readLong(),
                  in.readInt(),
                  in.readInt()));
      case CANCEL -> new Cancel(readString(in));
      case DONE -> {
        String jobId = readString(in);
        byte kind = in.readByte();
        yield new Done(
            new JsReply(
                jobId,
                kind < 0 ? null : FailureKind.values()[kind],
                readString(in),
                readString(in),
                in.readInt(),
                readString(in),
                in.readLong(),
                in.readLong()));
      }
      default -> throw new IOException("unknown frame type " + type);
    };
  }

  private static void writeString(DataOutputStream out, String s) throws IOException {
    if (s == null) {
      out.writeInt(-1);
      return;
    }
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  private static String readString(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0) return null;
    byte[] b = new byte[n];
    in.readFully(b);
    return new String(b, StandardCharsets.UTF_8);
  }
}
