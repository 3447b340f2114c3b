package dev.anchor.worker;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * metrics.hasDocker: a daemon must answer GET /_ping with 200 OK; a socket file or another answer
 * is not Docker.
 */
class DockerProbeTest {
  @TempDir Path dir;

  /** A one-shot fake daemon on a Unix socket answering {@code reply} to whatever it is sent. */
  private Path fakeDaemon(String name, String reply) throws Exception {
    Path sock = dir.resolve(name);
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(sock));
    Thread.ofVirtual()
        .start(
            () -> {
              try (server;
                  SocketChannel c = server.accept()) {
                ByteBuffer in = ByteBuffer.allocate(1024);
                String req = "";
                while (!req.contains("\r\n\r\n") && c.read(in) >= 0)
                  req = new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII);
                if (req.startsWith("GET /_ping "))
                  c.write(ByteBuffer.wrap(reply.getBytes(StandardCharsets.US_ASCII)));
              } catch (Exception ignored) {
                // the test sees the outcome
              }
            });
    return sock;
  }

  @Test
  void aDaemonThatAnswersThePingIsDocker() throws Exception {
    Path sock =
        fakeDaemon(
            "docker.sock", "HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Length: 2\r\n\r\nOK");
    assertTrue(DockerProbe.probe(Map.of("DOCKER_HOST", "unix://" + sock)));
  }

  @Test
  void anythingElseIsNot() throws Exception {
    assertFalse(DockerProbe.probe(Map.of("DOCKER_HOST", "unix://" + dir.resolve("missing.sock"))));
    Path refusing =
        fakeDaemon("err.sock", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno");
    assertFalse(DockerProbe.probe(Map.of("DOCKER_HOST", "unix://" + refusing)));
    Path silent = dir.resolve("silent.sock");
    try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      s.bind(
          UnixDomainSocketAddress.of(
              silent)); // accepts (backlog) but never answers: a second, then false
      long t0 = System.nanoTime();
      assertFalse(DockerProbe.probe(Map.of("DOCKER_HOST", "unix://" + silent)));
      assertTrue(System.nanoTime() - t0 < 3_000_000_000L);
    }
    assertFalse(DockerProbe.probe(Map.of("DOCKER_HOST", "ssh://somewhere")));
  }
}
