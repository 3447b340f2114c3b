package dev.anchor.queue;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A Lua script called by its SHA-1 (EVALSHA), so each call sends the digest rather than the whole
 * text and Redis does not hash the text again; after a Redis restart (NOSCRIPT) the call is
 * repeated once with EVAL, which caches it again.
 */
public final class RedisScript {
  private final String text;
  private final String sha;
  private final ScriptOutputType output;

  public RedisScript(String text, ScriptOutputType output) {
    this.text = text;
    this.output = output;
    try {
      this.sha =
          HexFormat.of()
              .formatHex(
                  MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The same, blocking the caller (a worker's reader, which owns its connection). */
  public <T> T callSync(
      io.lettuce.core.api.sync.RedisCommands<String, String> redis, String[] keys, String... args) {
    try {
      return redis.evalsha(sha, output, keys, args);
    } catch (RedisNoScriptException e) {
      return redis.eval(text, output, keys, args);
    }
  }

  public <T> CompletionStage<T> call(
      RedisAsyncCommands<String, String> redis, String[] keys, String... args) {
    CompletableFuture<T> out = new CompletableFuture<>();
    redis
        .<T>evalsha(sha, output, keys, args)
        .whenComplete(
            (v, e) -> {
              if (e == null) {
                out.complete(v);
              } else if (e instanceof RedisNoScriptException
                  || e.getCause() instanceof RedisNoScriptException) {
                redis
                    .<T>eval(text, output, keys, args)
                    .whenComplete(
                        (v2, e2) -> {
                          if (e2 == null) out.complete(v2);
                          else out.completeExceptionally(e2);
                        });
              } else {
                out.completeExceptionally(e);
              }
            });
    return out;
  }
}
