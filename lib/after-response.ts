import "server-only";
import { after } from "next/server";
import { logger } from "@/lib/logger";

/**
 * Runs work after the response has been sent. For requests whose answer must not depend on what the work
 * finds (a password-reset request answers the same sentence for every address), doing the work afterwards
 * also takes it out of the response time, which would otherwise tell an attacker whether the address has an
 * account. Failures are logged, never shown: the customer's answer has already gone. Outside a request
 * (scripts, tests) the work runs at once and the caller waits for it.
 */
export async function runAfterResponse(description: string, work: () => Promise<void>): Promise<void> {
  const guarded = async () => {
    try {
      await work();
    } catch (error) {
      logger.error({ err: error, work: description }, "work after the response failed");
    }
  };
  try {
    after(guarded);
  } catch {
    await guarded();
  }
}
