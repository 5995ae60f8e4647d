export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** When the window will have room again, in epoch milliseconds. */
  resetAtMilliseconds: number;
}

export interface RateLimiter {
  /** Counts one request for `key`. Throws RateLimiterUnavailableError when the store cannot answer. */
  limit(key: string): Promise<RateLimitDecision>;
}

export class RateLimiterUnavailableError extends Error {
  constructor(cause: unknown) {
    super("rate limiter unavailable", { cause });
    this.name = "RateLimiterUnavailableError";
  }
}
