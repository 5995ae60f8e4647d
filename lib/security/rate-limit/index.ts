/**
 * The one entry point for rate limiting. No `server-only` marker: proxy.ts uses it, and it touches no
 * database. With REDIS_URL the limits live in Redis and hold across every instance; without it (the embedded
 * default) they live in this process's memory, with one warning at start-up.
 */
import type { Environment } from "@/lib/env-schema";
import { rateLimitDefinitions, type RateLimitName } from "@/lib/security/rate-limit/definitions";
import { createMemoryLimiter } from "@/lib/security/rate-limit/memory-limiter";
import { countRateLimitRefusal } from "@/lib/metrics/registry";
import { createRedisLimiter, rateLimitRedisClient } from "@/lib/security/rate-limit/redis-limiter";
import { RateLimiterUnavailableError, type RateLimitDecision, type RateLimiter } from "@/lib/security/rate-limit/types";

export { clientKeyForIp } from "@/lib/security/rate-limit/client-key";
export { rateLimitDefinitions, type RateLimitName } from "@/lib/security/rate-limit/definitions";
export { RateLimiterUnavailableError, type RateLimitDecision } from "@/lib/security/rate-limit/types";

type LimiterConfiguration = Pick<Environment, "rateLimits" | "redisUrl"> &
  Partial<Pick<Environment, "payeeLookupsPerDay" | "redisTlsCertificateAuthorityFile">>;

const globalForLimiters = globalThis as typeof globalThis & {
  bankRateLimiters?: Map<string, RateLimiter>;
  bankRateLimitMemoryWarningGiven?: boolean;
};

function limiterFor(configuration: LimiterConfiguration, name: RateLimitName): RateLimiter {
  const definition = rateLimitDefinitions(configuration)[name];
  const cacheKey = `${configuration.redisUrl ?? "memory"}|${configuration.rateLimits.prefix}|${name}|${definition.limit}|${definition.windowSeconds}`;
  globalForLimiters.bankRateLimiters ??= new Map();
  let limiter = globalForLimiters.bankRateLimiters.get(cacheKey);
  if (!limiter) {
    if (configuration.redisUrl) {
      limiter = createRedisLimiter({
        client: rateLimitRedisClient(configuration.redisUrl, configuration.redisTlsCertificateAuthorityFile),
        prefix: configuration.rateLimits.prefix,
        name,
        limit: definition.limit,
        windowSeconds: definition.windowSeconds,
      });
    } else {
      if (!globalForLimiters.bankRateLimitMemoryWarningGiven) {
        globalForLimiters.bankRateLimitMemoryWarningGiven = true;
        process.stderr.write(
          `${JSON.stringify({ level: "warn", msg: "REDIS_URL is not set: rate limits are kept in memory, for this one instance only" })}\n`,
        );
      }
      limiter = createMemoryLimiter(name, definition.limit, definition.windowSeconds);
    }
    globalForLimiters.bankRateLimiters.set(cacheKey, limiter);
  }
  return limiter;
}

export type RateLimitOutcome =
  | { kind: "allowed"; decision: RateLimitDecision | null }
  | { kind: "limited"; decision: RateLimitDecision }
  | { kind: "unavailable" };

/**
 * Counts one request under the named limit. When the store cannot answer, the limit's own policy decides:
 * fail-closed limits answer "unavailable" (the caller sends 503), fail-open ones let the request through.
 */
export async function consumeRateLimit(
  configuration: LimiterConfiguration,
  name: RateLimitName,
  key: string,
): Promise<RateLimitOutcome> {
  const definition = rateLimitDefinitions(configuration)[name];
  try {
    const decision = await limiterFor(configuration, name).limit(key);
    if (decision.allowed) return { kind: "allowed", decision };
    countRateLimitRefusal(name, "limited");
    return { kind: "limited", decision };
  } catch (error) {
    if (!(error instanceof RateLimiterUnavailableError)) throw error;
    if (definition.whenUnavailable === "open") return { kind: "allowed", decision: null };
    countRateLimitRefusal(name, "unavailable");
    return { kind: "unavailable" };
  }
}

/** The standard headers describing a decision (IETF RateLimit fields, plus Retry-After when limited). */
export function rateLimitHeaders(decision: RateLimitDecision, now = Date.now()): Record<string, string> {
  const resetSeconds = Math.max(0, Math.ceil((decision.resetAtMilliseconds - now) / 1000));
  return {
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(resetSeconds),
    ...(decision.allowed ? {} : { "Retry-After": String(Math.max(1, resetSeconds)) }),
  };
}
