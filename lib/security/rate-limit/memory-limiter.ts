/**
 * The embedded default when no REDIS_URL is configured: the same limits, kept in this process's memory.
 * Right for one instance on a developer's machine; wrong for several instances, which is why production
 * mode requires Redis. The window slides exactly: each key keeps the times of its counted requests inside
 * the window (at most `limit` of them, so memory per key is bounded).
 */
import type { RateLimitDecision, RateLimiter } from "@/lib/security/rate-limit/types";

const globalForMemory = globalThis as typeof globalThis & { bankMemoryRateLimits?: Map<string, number[]> };

export function createMemoryLimiter(name: string, limit: number, windowSeconds: number): RateLimiter {
  globalForMemory.bankMemoryRateLimits ??= new Map();
  const store = globalForMemory.bankMemoryRateLimits;
  const windowMilliseconds = windowSeconds * 1000;
  return {
    async limit(key: string): Promise<RateLimitDecision> {
      const storeKey = `${name}:${key}`;
      const now = Date.now();
      const recent = (store.get(storeKey) ?? []).filter((time) => time > now - windowMilliseconds);
      const oldest = recent[0];
      if (recent.length >= limit) {
        store.set(storeKey, recent);
        return { allowed: false, limit, remaining: 0, resetAtMilliseconds: (oldest ?? now) + windowMilliseconds };
      }
      recent.push(now);
      store.set(storeKey, recent);
      return {
        allowed: true,
        limit,
        remaining: limit - recent.length,
        resetAtMilliseconds: (recent[0] ?? now) + windowMilliseconds,
      };
    },
  };
}
