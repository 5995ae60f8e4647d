import "server-only";
import { and, eq, type SQL } from "drizzle-orm";
import { accounts } from "@/db/schema";
import type { CustomerActor } from "@/lib/auth/actor";

/**
 * The only way customer code selects accounts: the ownership filter, built in one place. Every query on
 * behalf of a customer adds it, so an account that is not theirs is simply not there (not_found, never
 * forbidden, so existence is not revealed).
 */
export function ownedAccountsFilter(actor: CustomerActor): SQL {
  const filter = and(eq(accounts.ownerId, actor.userId), eq(accounts.ownerRole, "customer"));
  if (!filter) throw new Error("ownership filter could not be built");
  return filter;
}
