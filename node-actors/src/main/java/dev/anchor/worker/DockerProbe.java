package dev.anchor.worker;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Whether a Docker daemon answers on this machine, for {@code metrics.hasDocker} of GET /api/nodes
 * (the reference system reports it): {@code GET /_ping} on {@code DOCKER_HOST} ({@code unix://…} or
 * {@code tcp://host:port}), else on {@code /var/run/docker.sock}, must answer 200 {@code OK} within
 * a second. A socket file alone is not enough (a stopped daemon leaves it), nor is a daemon this
 * user may not use. Anchor runs no containers itself; this only says whether the node could.
 */
final class DockerProbe {
  static final String DEFAULT_SOCKET = "/var/run/docker.sock";

  private DockerProbe() {}

  static boolean probe(Map<String, String> env) {
    try {
      return ping(address(env.get("DOCKER_HOST")));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  static SocketAddress address(String dockerHost) {
    if (dockerHost == null || dockerHost.isBlank())
      return UnixDomainSocketAddress.of(DEFAULT_SOCKET);
    URI uri = URI.create(dockerHost.trim());
    return switch (uri.getScheme()) {
      case "unix" -> UnixDomainSocketAddress.of(uri.getPath());
      case "tcp", "http" ->
          new InetSocketAddress(uri.getHost(), uri.getPort() < 0 ? 2375 : uri.getPort());
      default -> throw new IllegalArgumentException("unsupported DOCKER_HOST " + dockerHost);
    };
  }

  static boolean ping(SocketAddress address) throws IOException {
    if (address instanceof UnixDomainSocketAddress u && !Files.exists(u.getPath())) return false;
    CompletableFuture<Boolean> answer =
        CompletableFuture.supplyAsync(
            () -> {
              try (SocketChannel ch =
                  address instanceof UnixDomainSocketAddress
                      ? SocketChannel.open(StandardProtocolFamily.UNIX)
                      : SocketChannel.open()) {
                ch.connect(address);
                ch.write(
                    ByteBuffer.wrap(
                        "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII)));
                ByteBuffer buf = ByteBuffer.allocate(4096);
                while (buf.hasRemaining() && ch.read(buf) >= 0) {}
                String reply =
                    new String(buf.array(), 0, buf.position(), StandardCharsets.ISO_8859_1);
                int body = reply.indexOf("\r\n\r\n");
                return reply.matches("(?s)HTTP/1\\.[01] 200 .*")
                    && body > 0
                    && reply.substring(body + 4).trim().equals("OK");
              } catch (IOException e) {
                return false;
              }
            });
    try {
      return answer.get(1, TimeUnit.SECONDS);
    } catch (Exception e) {
      answer.cancel(true);
      return false;
    }
  }
}
