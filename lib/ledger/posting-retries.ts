import "server-only";
import { sqlState as sqlStateOf } from "@/lib/database-errors";
import { logger } from "@/lib/logger";

/**
 * Bounded retries of a posting that lost a race the database resolved by aborting it: a serialization
 * failure (40001, also raised by the posting function when a confirmation was spent in parallel) or a
 * deadlock (40P01). The ledger's lock order makes deadlocks impossible among its own functions, but other
 * writers (foreign-key checks, staff tools) may still meet one; either way the aborted transaction wrote
 * nothing, so running it again is safe, and the customer never sees the race. Jitter spreads the retries so
 * that the losers do not collide again in lock-step.
 */
const retryableStates = new Set(["40001", "40P01"]);
export const maximumPostingAttempts = 5;

export function isRetryablePostingError(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && retryableStates.has(state);
}

export async function withPostingRetries<Result>(posting: () => Promise<Result>): Promise<Result> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await posting();
    } catch (error) {
      if (!isRetryablePostingError(error) || attempt >= maximumPostingAttempts) throw error;
      // Exponential backoff with full jitter: 0–10 ms, 0–20 ms, 0–40 ms, 0–80 ms.
      const delayMilliseconds = Math.random() * 10 * 2 ** (attempt - 1);
      logger.warn({ attempt, sqlState: sqlStateOf(error) }, "posting aborted by a concurrent transaction; retrying");
      await new Promise((resolve) => setTimeout(resolve, delayMilliseconds));
    }
  }
}
