package dev.anchor.boot;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** Where a standalone's embedded Redis listens, and the address its workers are told. */
class EmbeddedListenTest {
  @Test
  void byDefaultItListensWhereTheClusterPortDoes() {
    Stores.EmbeddedListen plain = Stores.EmbeddedListen.of("", 0, "127.0.0.1");
    assertEquals("127.0.0.1", plain.bind());
    assertTrue(plain.loopbackOnly(), "a plain standalone keeps its Redis on loopback");
    Stores.EmbeddedListen open = Stores.EmbeddedListen.of("", 0, "10.1.2.3");
    assertEquals("10.1.2.3", open.bind());
    assertEquals("10.1.2.3", open.advertisedHost());
    assertFalse(open.loopbackOnly());
  }

  @Test
  void aWildcardBindAdvertisesTheClusterHost() {
    Stores.EmbeddedListen all = Stores.EmbeddedListen.of("0.0.0.0", 6400, "10.1.2.3");
    assertEquals("0.0.0.0", all.bind());
    assertEquals("10.1.2.3", all.advertisedHost());
    assertEquals(6400, all.port());
    assertFalse(all.loopbackOnly());
  }

  @Test
  void aBadPortIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> Stores.EmbeddedListen.of("", 70000, "127.0.0.1"));
    assertTrue(e.getMessage().contains("ANCHOR_EMBEDDED_REDIS_PORT"), e.getMessage());
  }
}
