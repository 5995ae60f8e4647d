/**
 * @upstash/ratelimit over a plain Redis through ioredis. Two things stand between them (STACK-NOTES traps 2
 * and 3):
 * - Upstash's Lua scripts begin with `#!lua flags=allow-key-locking`, which Redis 7.0 refuses. The adapter
 *   strips the flags and keeps a map from the original script hash (which the library asks for) to the hash
 *   of the script Redis actually stored.
 * - The library fails open by default (a slow Redis resolves `success: true` after 5 s). Here it fails
 *   closed: no timeout race, no ephemeral cache, and ioredis refuses commands at once while disconnected
 *   (no offline queue, one retry), so `limit()` throws within milliseconds when Redis is down and the caller
 *   decides, per limit, whether that means 503 or letting the request through.
 */
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Ratelimit } from "@upstash/ratelimit";
import Redis from "ioredis";
import { registerShutdownHook } from "@/lib/shutdown-hooks";
import { RateLimiterUnavailableError, type RateLimitDecision, type RateLimiter } from "@/lib/security/rate-limit/types";

type RedisArgument = string | number;

/** The part of Upstash's Redis client that a single-region Ratelimit calls. */
class UpstashCompatibleRedis {
  private readonly patchedHashByOriginalHash = new Map<string, string>();
  private readonly patchedScriptByOriginalHash = new Map<string, string>();

  constructor(private readonly client: Redis) {}

  private remember(script: string): { patchedScript: string; patchedHash: string } {
    const originalHash = crypto.createHash("sha1").update(script).digest("hex");
    const patchedScript = script.replace(/^#!lua[^\n]*\n/, "");
    const patchedHash = crypto.createHash("sha1").update(patchedScript).digest("hex");
    this.patchedHashByOriginalHash.set(originalHash, patchedHash);
    this.patchedScriptByOriginalHash.set(originalHash, patchedScript);
    return { patchedScript, patchedHash };
  }

  async evalsha(hash: string, keys: string[], args: RedisArgument[]): Promise<unknown> {
    const patchedHash = this.patchedHashByOriginalHash.get(hash);
    // Before the first eval of a script its patched hash is unknown; answering NOSCRIPT makes the library
    // send the script itself, exactly as Redis would for a script it has not seen.
    if (patchedHash === undefined) throw new Error("NOSCRIPT No matching script (not loaded through this adapter yet)");
    return this.client.evalsha(patchedHash, keys.length, ...keys, ...args);
  }

  async eval(script: string, keys: string[], args: RedisArgument[]): Promise<unknown> {
    const { patchedScript } = this.remember(script);
    return this.client.eval(patchedScript, keys.length, ...keys, ...args);
  }
}

const globalForRedis = globalThis as typeof globalThis & { bankRateLimitRedis?: Map<string, Redis> };

/**
 * One connection per Redis URL per process, reconnecting by itself after an outage. A rediss:// URL connects
 * over TLS with the server's certificate and name checked (ioredis passes the options to tls.connect, whose
 * defaults verify both); `tlsCertificateAuthorityFile` names a deployment's private CA for that check.
 */
export function rateLimitRedisClient(redisUrl: string, tlsCertificateAuthorityFile?: string): Redis {
  globalForRedis.bankRateLimitRedis ??= new Map();
  const cacheKey = `${redisUrl}|${tlsCertificateAuthorityFile ?? ""}`;
  let client = globalForRedis.bankRateLimitRedis.get(cacheKey);
  if (!client) {
    const tls = redisUrl.startsWith("rediss://") ? redisTlsOptions(tlsCertificateAuthorityFile) : undefined;
    client = new Redis(redisUrl, {
      ...(tls === undefined ? {} : { tls }),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 1_000,
      commandTimeout: 1_000,
      // Keep trying to reconnect, quickly, so that the limits come back soon after Redis does.
      retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    });
    // Connection errors surface as failed commands, which the callers handle; without a listener ioredis
    // would print every reconnect attempt.
    client.on("error", () => undefined);
    globalForRedis.bankRateLimitRedis.set(cacheKey, client);
    const registeredClient = client;
    registerShutdownHook(`rate-limit Redis ${redisAddressForLogs(redisUrl)}`, "close-connections", async () => {
      await closeRedisClient(registeredClient);
      if (globalForRedis.bankRateLimitRedis?.get(cacheKey) === registeredClient) {
        globalForRedis.bankRateLimitRedis.delete(cacheKey);
      }
    });
  }
  return client;
}

/** TLS options for a rediss:// connection: verification always on, with the deployment's CA when one is named. */
function redisTlsOptions(certificateAuthorityFile: string | undefined): ConnectionOptions {
  if (certificateAuthorityFile === undefined) return { rejectUnauthorized: true };
  // Read once per client; a missing file fails the first use of the limiter loudly rather than silently
  // connecting without the CA (and then failing every handshake with a less helpful message).
  return { ca: readFileSync(certificateAuthorityFile), rejectUnauthorized: true };
}

/** Host, port and database number of a Redis URL: never its user name or password, which may be in it. */
function redisAddressForLogs(redisUrl: string): string {
  const url = new URL(redisUrl);
  return `${url.hostname}:${url.port || "6379"}${url.pathname.length > 1 ? url.pathname : ""}`;
}

const redisQuitTimeoutMilliseconds = 1_000;

/**
 * Closes a client at shutdown. QUIT lets Redis answer what was already sent and then closes the connection
 * from its side; it is bounded, because a Redis that stopped answering would otherwise hold up the exit. A
 * client that is not connected (or whose QUIT fails or takes too long) is disconnected at once, which also
 * stops its reconnection attempts. Either way the connection is closed, which is all a shutdown needs: the
 * requests whose limits these commands counted have already been answered.
 */
async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const quitWithinTimeout = await Promise.race([
    client.quit().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), redisQuitTimeoutMilliseconds);
    }),
  ]);
  clearTimeout(timer);
  if (!quitWithinTimeout) client.disconnect();
}

/**
 * Without an offline queue, a command sent while the very first connection is still being set up would fail
 * although Redis is fine. So a fresh client is given a moment to become ready; a client that has lost its
 * connection ("reconnecting") is not waited for, so an outage is reported at once.
 */
export async function untilReady(client: Redis): Promise<void> {
  if (client.status !== "connecting" && client.status !== "connect" && client.status !== "wait") return;
  if (client.status === "wait") client.connect().catch(() => undefined);
  await new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      client.off("ready", finish);
      client.off("error", finish);
      resolve();
    };
    const timer = setTimeout(finish, 500);
    client.once("ready", finish);
    client.once("error", finish);
  });
}

export function createRedisLimiter(options: {
  client: Redis;
  prefix: string;
  name: string;
  limit: number;
  windowSeconds: number;
}): RateLimiter {
  const ratelimit = new Ratelimit({
    // The adapter implements exactly the calls a single-region sliding window makes.
    redis: new UpstashCompatibleRedis(options.client) as unknown as ConstructorParameters<typeof Ratelimit>[0]["redis"],
    limiter: Ratelimit.slidingWindow(options.limit, `${options.windowSeconds} s`),
    prefix: `${options.prefix}:${options.name}`,
    timeout: 0,
    ephemeralCache: false,
    analytics: false,
  });
  return {
    async limit(key: string): Promise<RateLimitDecision> {
      try {
        await untilReady(options.client);
        const result = await ratelimit.limit(key);
        return {
          allowed: result.success,
          limit: result.limit,
          remaining: Math.max(0, result.remaining),
          resetAtMilliseconds: result.reset,
        };
      } catch (error) {
        throw new RateLimiterUnavailableError(error);
      }
    },
  };
}
