import "server-only";
import type { Actor } from "@/lib/auth/actor";
import { clearLockout } from "@/lib/identity/clear-lockout";

/**
 * Clears a customer's sign-in lock so they can sign in at once. The rule and the write live in
 * lib/identity/clear-lockout.ts, with the lockout data; it starts with the back office's permission check
 * (`customers.clear_lockout`). This file is the back office's name for it.
 */
export async function clearCustomerLockout(actor: Actor | null, customerId: string): Promise<void> {
  await clearLockout(actor, customerId);
}
