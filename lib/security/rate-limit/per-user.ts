import "server-only";
import { BankError } from "@/lib/errors";
import { env } from "@/lib/env";
import { consumeRateLimit } from "@/lib/security/rate-limit";

/** The limits counted per signed-in user (keyed by user id, so changing address or browser does not reset them). */
export type PerUserLimitName = "userActions" | "historyExports" | "payeeLookups";

/**
 * Counts one request against a per-user limit and refuses it when the limit is reached. Every per-user
 * limit fails closed: each guards writes, money, names or bulk exports, and an attacker who can make Redis
 * unreachable must not thereby switch the limit off.
 */
export async function enforcePerUserLimit(name: PerUserLimitName, userId: string, userMessage?: string): Promise<void> {
  const outcome = await consumeRateLimit(env(), name, `user:${userId}`);
  if (outcome.kind === "limited") {
    throw new BankError("rate_limited", userMessage === undefined ? {} : { userMessage });
  }
  if (outcome.kind === "unavailable") {
    throw new BankError("unavailable", { internalMessage: `rate limiter unavailable for the per-user limit ${name}` });
  }
}
