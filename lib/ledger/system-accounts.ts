import "server-only";
import crypto from "node:crypto";
import { and, eq } from "drizzle-orm";
import type { Queryable } from "@/db/client";
import { accounts } from "@/db/schema";
import { bankCurrency } from "@/lib/accounts/bank-currency";
import { randomAccountNumber } from "@/lib/accounts/open-account";
import { assert } from "@/lib/errors";

/**
 * The bank's own accounts, one per purpose and currency: `funding` (where demo deposits and openings come
 * from, so that the ledger as a whole always sums to zero), `suspense` and `fees`. They carry negative
 * balances where the bank has paid out; customer accounts never can.
 */
export const systemAccountPurposes = ["funding", "suspense", "fees"] as const;
export type SystemAccountPurpose = (typeof systemAccountPurposes)[number];

const nicknames: Record<SystemAccountPurpose, string> = {
  funding: "Bank funding (system)",
  suspense: "Bank suspense (system)",
  fees: "Bank fees (system)",
};

/** Creates any missing system account (idempotent; the partial unique index makes a race harmless). */
export async function ensureSystemAccounts(queryable: Queryable, currency = bankCurrency): Promise<void> {
  for (const purpose of systemAccountPurposes) {
    await queryable
      .insert(accounts)
      .values({
        id: crypto.randomUUID(),
        kind: "system",
        systemPurpose: purpose,
        accountNumber: randomAccountNumber(),
        currency,
        nickname: nicknames[purpose],
      })
      .onConflictDoNothing();
  }
}

/** The id of the system account for `purpose` in `currency`. */
export async function systemAccountId(queryable: Queryable, purpose: SystemAccountPurpose, currency = bankCurrency): Promise<string> {
  const [row] = await queryable
    .select({ id: accounts.id })
    .from(accounts)
    .where(and(eq(accounts.systemPurpose, purpose), eq(accounts.currency, currency)))
    .limit(1);
  assert(row !== undefined, `system account ${purpose} ${currency} is missing (run the migrations)`);
  return row.id;
}
